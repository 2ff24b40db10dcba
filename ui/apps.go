package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hookbridge/hookbridge"
)

// The dashboard's application forms: create, edit and delete an
// application. They send the API's ApplicationIn and ApplicationPatch, so
// what a valid name, uid, rate limit or metadata is stays the API's to say.

// appForm is the form that creates or edits an application.
type appForm struct {
	App    *hookbridge.Application // nil when creating
	Name   string
	UID    string
	Rate   string
	Meta   []metaRow
	Action string
	Cancel string
}

// metaRow is one metadata key and value of the form.
type metaRow struct{ Key, Value string }

// spareMetaRows is how many empty metadata rows the form offers for new
// keys (without script; static/app.js adds more on request).
const spareMetaRows = 2

func (h *Handler) dashNewApp(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	h.renderAppForm(w, r, v, http.StatusOK)
	return nil
}

func (h *Handler) dashEditApp(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	h.renderAppForm(w, r, v, http.StatusOK)
	return nil
}

// renderAppForm shows the application form for v.App (nil: a new one),
// filled from the submitted form when there is one.
func (h *Handler) renderAppForm(w http.ResponseWriter, r *http.Request, v *view, status int) {
	f := appForm{App: v.App, Action: "/ui/apps/new", Cancel: "/ui/"}
	switch {
	case r.Method == http.MethodPost:
		pf := r.PostForm
		f.Name, f.UID, f.Rate = pf.Get("name"), pf.Get("uid"), pf.Get("rateLimit")
		keys, values := pf["metaKey"], pf["metaValue"]
		for i, k := range keys {
			row := metaRow{Key: k}
			if i < len(values) {
				row.Value = values[i]
			}
			if row.Key != "" || row.Value != "" {
				f.Meta = append(f.Meta, row)
			}
		}
	case v.App != nil:
		f.Name, f.UID = v.App.Name, v.App.UID
		if v.App.RateLimit != nil {
			f.Rate = strconv.Itoa(*v.App.RateLimit)
		}
		for _, k := range sortedKeys(v.App.Metadata) {
			f.Meta = append(f.Meta, metaRow{Key: k, Value: v.App.Metadata[k]})
		}
	}
	for range spareMetaRows {
		f.Meta = append(f.Meta, metaRow{})
	}
	if v.App != nil {
		f.Action, f.Cancel = "/ui/apps/"+v.App.ID+"/edit", "/ui/apps/"+v.App.ID
		v.Title = "Edit application"
	} else {
		v.Title = "New application"
	}
	v.Nav, v.Data = "overview", f
	h.render(w, r, status, "app_form", v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appBody is the API's ApplicationIn (create) and ApplicationPatch (edit)
// as the form fills it: every field is sent, null clearing the uid or the
// rate limit.
type appBody struct {
	Name      string            `json:"name"`
	UID       *string           `json:"uid"`
	RateLimit *int              `json:"rateLimit"`
	Metadata  map[string]string `json:"metadata"`
}

// readAppForm reads the application form. What the API cannot be asked (a
// rate limit that is not a number, a metadata value without a key or a key
// given twice) is reported beside its field here.
func readAppForm(r *http.Request, v *view) appBody {
	f := r.PostForm
	b := appBody{Name: strings.TrimSpace(f.Get("name")), Metadata: map[string]string{}}
	if uid := strings.TrimSpace(f.Get("uid")); uid != "" {
		b.UID = &uid
	}
	b.RateLimit = rateField(v, f.Get("rateLimit"))
	keys, values := f["metaKey"], f["metaValue"]
	for i, k := range keys {
		k = strings.TrimSpace(k)
		val := ""
		if i < len(values) {
			val = values[i]
		}
		_, dup := b.Metadata[k]
		switch {
		case k == "" && val == "":
		case k == "":
			v.Errors["metadata"] = "Give each value a key."
		case dup:
			v.Errors["metadata"] = fmt.Sprintf("The key %q is given twice.", k)
		default:
			b.Metadata[k] = val
		}
	}
	return b
}

// appFormFailed is formFailed for the application form, which also puts a
// taken uid (409) beside the uid field.
func appFormFailed(err error, v *view, body appBody) bool {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict && body.UID != nil {
		v.Errors["uid"] = ae.Detail
		v.Error = "Please correct the fields marked below."
		return true
	}
	return formFailed(err, v)
}

func (h *Handler) dashCreateApp(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.saveApp(w, r, v, http.MethodPost, apiPath("app"), "app-created")
}

func (h *Handler) dashUpdateApp(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	return h.saveApp(w, r, v, http.MethodPatch, apiPath("app", v.App.ID), "app-updated")
}

// saveApp sends the application form to the API (method at path) and, when
// it is taken, goes to the application's page saying done.
func (h *Handler) saveApp(w http.ResponseWriter, r *http.Request, v *view, method, path, done string) error {
	body := readAppForm(r, v)
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		h.renderAppForm(w, r, v, http.StatusUnprocessableEntity)
		return nil
	}
	var out struct {
		ID string `json:"id"`
	}
	err := h.callAPI(r, method, path, body, &out)
	if appFormFailed(err, v, body) {
		h.renderAppForm(w, r, v, http.StatusUnprocessableEntity)
		return nil
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/ui/apps/"+out.ID+"?done="+done)
	return nil
}

func (h *Handler) dashConfirmDeleteApp(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	v.Title, v.Nav, v.Data = "Delete application", "overview", confirmPage{
		Heading: "Delete this application?",
		Subject: v.App.Name,
		Detail: "Its endpoints, messages and attempts are deleted with it, nothing more is sent to its endpoints, " +
			"and its portal links stop working. This cannot be undone.",
		Action: "/ui/apps/" + v.App.ID + "/delete",
		Button: "Delete application",
		Cancel: "/ui/apps/" + v.App.ID,
	}
	h.render(w, r, http.StatusOK, "confirm", v)
	return nil
}

func (h *Handler) dashDeleteApp(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	if err := h.callAPI(r, http.MethodDelete, apiPath("app", v.App.ID), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/ui/?done=app-deleted")
	return nil
}
