package ui

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// An application's endpoint pages and actions: add, edit, show (with its
// delivery chart, secret, test event and recovery), disable, rotate the
// secret, delete. The portal serves them under /portal/endpoints/ for the
// session's application and the dashboard under /ui/apps/{app}/endpoints/
// for the application of the path; both wrappers put that application in
// v.App, and these handlers work on v.App only, linking with v.AppBase.
// The one difference is the event types offered (visibleTypes).

// endpoint resolves the {ep} of the path within v.App.
func (h *Handler) endpoint(r *http.Request, v *view) (*hookbridge.Endpoint, error) {
	ref, err := pathRef(r, "ep")
	if err != nil {
		return nil, err
	}
	return h.store.GetEndpoint(r.Context(), v.App.ID, ref)
}

// endpointPath is the path of the endpoint's page, with more appended.
func endpointPath(v *view, epID string, more ...string) string {
	return v.AppBase() + "/endpoints/" + epID + strings.Join(more, "")
}

// endpointForm is the form that adds or edits an endpoint.
type endpointForm struct {
	Endpoint *hookbridge.Endpoint // nil when adding
	Types    []hookbridge.EventType
	URL      string
	Desc     string
	Selected []string
	Channels string
	Rate     string
	Filter   string
	Action   string
	Cancel   string
	// TestAction is where the filter is tested against the recent messages
	// ("" when adding: there is no endpoint to test it for yet); Tested
	// says it was, with Tests the results.
	TestAction string
	Tested     bool
	Tests      filterTests
}

// filterTests is the API's answer to a filter test (EndpointFilterTestOut).
type filterTests struct {
	Data []struct {
		MsgID      string    `json:"msgId"`
		EventType  string    `json:"eventType"`
		Timestamp  time.Time `json:"timestamp"`
		Subscribed bool      `json:"subscribed"`
		Matched    bool      `json:"matched"`
		Delivered  bool      `json:"delivered"`
		Error      string    `json:"error"`
	} `json:"data"`
	Delivered int `json:"delivered"`
}

// filterTestMessages is how many of the latest messages the form's test
// tries a filter on.
const filterTestMessages = 20

func (h *Handler) newEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	return h.renderEndpointForm(w, r, v, s, nil, http.StatusOK)
}

func (h *Handler) editEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	return h.renderEndpointForm(w, r, v, s, ep, http.StatusOK)
}

// renderEndpointForm shows the endpoint form, filled from the submitted
// form when there is one, else from ep.
func (h *Handler) renderEndpointForm(w http.ResponseWriter, r *http.Request, v *view, s *session, ep *hookbridge.Endpoint, status int) error {
	return h.renderEndpointFormTests(w, r, v, s, ep, status, nil)
}

// renderEndpointFormTests is renderEndpointForm with the results of a
// filter test, if tests is not nil.
func (h *Handler) renderEndpointFormTests(w http.ResponseWriter, r *http.Request, v *view, s *session, ep *hookbridge.Endpoint, status int, tests *filterTests) error {
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	f := endpointForm{Endpoint: ep, Types: types, Action: v.AppBase() + "/endpoints/new", Cancel: v.AppHome()}
	switch {
	case r.Method == http.MethodPost:
		pf := r.PostForm
		f.URL, f.Desc, f.Selected, f.Channels, f.Rate = pf.Get("url"), pf.Get("description"), pf["filterTypes"], pf.Get("channels"), pf.Get("rateLimit")
		f.Filter = pf.Get("filter")
	case ep != nil:
		// A broker URL's password is not put in the page: the form sends
		// the mask back, and the API keeps the stored password for it.
		f.URL, f.Desc, f.Selected, f.Channels = hookbridge.MaskURL(ep.URL), ep.Description, ep.EventTypes, strings.Join(ep.Channels, ", ")
		f.Filter = ep.Filter
		if ep.RateLimit != nil {
			f.Rate = strconv.Itoa(*ep.RateLimit)
		}
	}
	if ep != nil {
		f.Action, f.Cancel = endpointPath(v, ep.ID, "/edit"), endpointPath(v, ep.ID)
		f.TestAction = endpointPath(v, ep.ID, "/filter-test")
		v.Title = "Edit endpoint"
	} else {
		v.Title = "Add endpoint"
	}
	if tests != nil {
		f.Tested, f.Tests = true, *tests
	}
	v.Nav, v.Data = v.appNav(), f
	h.render(w, r, status, "endpoint_form", v)
	return nil
}

// endpointBody is the API's endpoint body as the form fills it. For an
// update every field is sent, null clearing a filter or a rate limit and
// an empty filter expression removing it (a PATCH, so that what the form
// does not show, such as metadata and headers, stays).
type endpointBody struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	FilterTypes []string `json:"filterTypes"`
	Channels    []string `json:"channels"`
	RateLimit   *int     `json:"rateLimit"`
	Filter      string   `json:"filter"`
}

// readEndpointForm reads the endpoint form. What the API cannot be asked
// (a rate limit that is not a number, an event type the session may not
// see) is reported beside its field here; everything else is the API's to
// judge.
func readEndpointForm(r *http.Request, v *view, visible []string) endpointBody {
	f := r.PostForm
	b := endpointBody{URL: strings.TrimSpace(f.Get("url")), Description: f.Get("description")}
	if sel := f["filterTypes"]; len(sel) > 0 {
		b.FilterTypes = sel
		for _, t := range sel {
			if !slices.Contains(visible, t) {
				v.Errors["filterTypes"] = "Pick event types from the list."
			}
		}
	}
	b.Channels = listField(f.Get("channels"))
	b.RateLimit = rateField(v, f.Get("rateLimit"))
	b.Filter = f.Get("filter")
	return b
}

// listField reads a list typed into one text field, its items separated
// by commas or spaces; nil when there is none.
func listField(text string) []string {
	items := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(items) == 0 {
		return nil
	}
	return items
}

// rateField reads a rate limit field (messages per second): nil when
// empty, else a whole number, which the API checks the range of.
func rateField(v *view, text string) *int {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		v.Errors["rateLimit"] = "Enter a whole number of messages per second, or leave it empty for no limit."
		return nil
	}
	return &n
}

func (h *Handler) createEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	body := readEndpointForm(r, v, typeNames(types))
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		return h.renderEndpointForm(w, r, v, s, nil, http.StatusUnprocessableEntity)
	}
	var out struct {
		ID string `json:"id"`
	}
	// The API omits nothing here: null filterTypes, channels and rateLimit
	// mean none.
	err = h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint"), body, &out)
	if formFailed(err, v) {
		return h.renderEndpointForm(w, r, v, s, nil, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, endpointPath(v, out.ID, "?done=created&reveal=1"))
	return nil
}

func (h *Handler) updateEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	// Types the endpoint already has stay acceptable even if the session
	// cannot see them any more, so saving the form does not fail on them.
	body := readEndpointForm(r, v, append(typeNames(types), ep.EventTypes...))
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		return h.renderEndpointForm(w, r, v, s, ep, http.StatusUnprocessableEntity)
	}
	err = h.callAPI(r, http.MethodPatch, apiPath("app", v.App.ID, "endpoint", ep.ID), body, nil)
	if formFailed(err, v) {
		return h.renderEndpointForm(w, r, v, s, ep, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, endpointPath(v, ep.ID, "?done=updated"))
	return nil
}

// testFilter tries the filter typed into the edit form on the
// application's latest messages, through the API, and shows the form
// again as it was filled, with what the endpoint would have been sent.
// Nothing is saved.
func (h *Handler) testFilter(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	expr := r.PostForm.Get("filter")
	if strings.TrimSpace(expr) == "" {
		v.Errors["filter"] = "Enter a filter to test it."
		v.Error = "Please correct the fields marked below."
		return h.renderEndpointForm(w, r, v, s, ep, http.StatusUnprocessableEntity)
	}
	var out filterTests
	err = h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint", ep.ID, "filter", "test"),
		map[string]any{"filter": expr, "last": filterTestMessages}, &out)
	if formFailed(err, v) {
		return h.renderEndpointForm(w, r, v, s, ep, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	return h.renderEndpointFormTests(w, r, v, s, ep, http.StatusOK, &out)
}

// endpointPage is one endpoint: its attempts over time, its secret, its
// test and recovery forms, and the messages sent to it.
type endpointPage struct {
	Endpoint    hookbridge.Endpoint
	State       endpointState
	Stats       hookbridge.EndpointStats
	Range       chartRange
	Ranges      []chartRange
	RangeAction string
	Chart       chart
	Reveal      bool
	Secret      string
	TestTypes   []hookbridge.EventType
	TestType    string
	Since       string // the recovery form's default: a day ago
	Messages    []hookbridge.EndpointMessage
	Auth        authForms // mutual TLS and OAuth (endpointauth.go)
	// Tasks are the endpoint's latest background tasks (its sends again),
	// newest first; TasksRunning says one still runs, and the list
	// refreshes itself (data-poll) until none does.
	Tasks        []taskRow
	TasksRunning bool
}

// endpointTasksShown is how many of its background tasks an endpoint's
// page lists.
const endpointTasksShown = 5

// recentMessages is how many messages an endpoint's page lists.
const recentMessages = 20

func (h *Handler) showEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	return h.renderEndpoint(w, r, v, s, http.StatusOK)
}

func (h *Handler) renderEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session, status int) error {
	ctx := r.Context()
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	now := h.now()
	q := r.URL.Query()
	if q.Get("reveal") == "1" && v.ReadOnly {
		// The signing secret lets its holder forge webhooks: a read-only
		// role sees that the endpoint has one, not what it is.
		h.refuseReadOnly(w, r, v)
		return nil
	}
	p := endpointPage{Endpoint: *ep, State: stateOf(ep, now), Reveal: q.Get("reveal") == "1", Range: findRange(q.Get("range")), Ranges: chartRanges, RangeAction: endpointPath(v, ep.ID)}
	if p.Reveal && len(ep.Secrets) > 0 {
		p.Secret = ep.Secrets[0].Key
	}
	if p.Stats, err = h.store.EndpointStats(ctx, v.App.ID, ep.ID, time.Time{}, time.Time{}); err != nil {
		return err
	}
	since, until := p.Range.window(now)
	counts, err := h.store.AttemptCounts(ctx, v.App.ID, ep.ID, since, until, p.Range.Width)
	if err != nil {
		return err
	}
	p.Chart = buildChart("Delivery attempts, "+strings.ToLower(p.Range.Label), counts, since, p.Range)
	types, err := h.visibleTypes(ctx, s)
	if err != nil {
		return err
	}
	// A test event is of a type the endpoint would receive.
	for _, t := range types {
		if len(ep.EventTypes) == 0 || slices.Contains(ep.EventTypes, t.Name) {
			p.TestTypes = append(p.TestTypes, t)
		}
	}
	p.TestType = r.PostForm.Get("eventType")
	p.Since = r.PostForm.Get("since")
	if p.Since == "" {
		p.Since = now.UTC().Add(-24 * time.Hour).Format(inputTimeLayout)
	}
	msgs, err := h.store.ListEndpointMessages(ctx, v.App.ID, ep.ID, hookbridge.EndpointMessageFilter{
		MessageFilter: hookbridge.MessageFilter{ListOptions: hookbridge.ListOptions{Limit: recentMessages}},
	})
	if err != nil {
		return err
	}
	p.Messages = msgs.Data
	tasks, err := h.store.ListTasks(ctx, hookbridge.TaskFilter{AppID: v.App.ID, EndpointID: ep.ID,
		ListOptions: hookbridge.ListOptions{Limit: endpointTasksShown}})
	if err != nil {
		return err
	}
	for _, t := range tasks.Data {
		p.Tasks = append(p.Tasks, taskRow{Task: t})
		p.TasksRunning = p.TasksRunning || t.Status == hookbridge.TaskRunning
	}
	if p.Auth, err = h.loadAuthForms(r, v, ep.ID); err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "Endpoint", v.appNav(), p
	h.render(w, r, status, "endpoint", v)
	return nil
}

// disableEndpoint disables (disabled=true) or enables the endpoint.
func (h *Handler) disableEndpoint(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	disable := r.PostForm.Get("disabled") == "true"
	if err := h.callAPI(r, http.MethodPatch, apiPath("app", v.App.ID, "endpoint", ep.ID), map[string]bool{"disabled": disable}, nil); err != nil {
		return err
	}
	done := "enabled"
	if disable {
		done = "disabled"
	}
	redirect(w, r, endpointPath(v, ep.ID, "?done="+done))
	return nil
}

func (h *Handler) rotateSecret(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint", ep.ID, "secret", "rotate"), struct{}{}, nil); err != nil {
		return err
	}
	redirect(w, r, endpointPath(v, ep.ID, "?done=rotated&reveal=1"))
	return nil
}

// sendTest sends an example event of the chosen type to this endpoint
// only, then shows the message, which follows its attempt as it happens.
func (h *Handler) sendTest(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	eventType := r.PostForm.Get("eventType")
	types, err := h.visibleTypes(r.Context(), s)
	if err != nil {
		return err
	}
	if !slices.Contains(typeNames(types), eventType) {
		v.Errors["eventType"] = "Pick an event type from the list."
		v.Error = "Please correct the fields marked below."
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	var out struct {
		ID string `json:"id"`
	}
	err = h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint", ep.ID, "send-example"), map[string]string{"eventType": eventType}, &out)
	if formFailed(err, v) {
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, v.AppBase()+"/msg/"+out.ID+"?done=sent")
	return nil
}

// sendAgain is what the endpoint page's "Send messages again" form may ask
// for: the API's task that does it, and the notice once it started.
var sendAgain = map[string]struct{ route, done string }{
	"failed":  {"recover", "recovering"},               // whose delivery here failed
	"missing": {"replay-missing", "replaying-missing"}, // never received here
}

// recoverEndpoint sends again, once, every message created since the given
// time that failed at this endpoint (what=failed, the default) or that it
// never received (what=missing): a background task either way.
func (h *Handler) recoverEndpoint(w http.ResponseWriter, r *http.Request, v *view, s *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	task, known := sendAgain[cmp.Or(r.PostForm.Get("what"), "failed")]
	if !known {
		v.Errors["what"] = "Choose the failed messages or those never received."
	}
	since, ok := parseInputTime(r.PostForm.Get("since"))
	if !ok || since.IsZero() {
		v.Errors["since"] = "Enter a date and time (UTC), e.g. 2025-06-01T12:00."
	}
	if len(v.Errors) > 0 {
		v.Error = "Please correct the fields marked below."
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	err = h.callAPI(r, http.MethodPost, apiPath("app", v.App.ID, "endpoint", ep.ID, task.route),
		map[string]string{"since": since.Format(time.RFC3339)}, nil)
	if formFailed(err, v) {
		return h.renderEndpoint(w, r, v, s, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	redirect(w, r, endpointPath(v, ep.ID, "?done="+task.done))
	return nil
}

// confirmPage asks before deleting something; without a script, a page
// of its own is the accessible way to ask.
type confirmPage struct {
	Heading string // the question
	Subject string // what goes, in bold
	Detail  string // what deleting it does
	Action  string // where the form posts
	Button  string
	Cancel  string // where "keep it" leads
}

func (h *Handler) confirmDeleteEndpoint(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "Delete endpoint", v.appNav(), confirmPage{
		Heading: "Delete this endpoint?",
		Subject: hookbridge.MaskURL(ep.URL),
		Detail:  "Nothing more is sent to it, and its message log and attempts are deleted with it. This cannot be undone. To pause deliveries instead, disable it.",
		Action:  endpointPath(v, ep.ID, "/delete"),
		Button:  "Delete endpoint",
		Cancel:  endpointPath(v, ep.ID),
	}
	h.render(w, r, http.StatusOK, "confirm", v)
	return nil
}

func (h *Handler) deleteEndpoint(w http.ResponseWriter, r *http.Request, v *view, _ *session) error {
	ep, err := h.endpoint(r, v)
	if err != nil {
		return err
	}
	if err := h.callAPI(r, http.MethodDelete, apiPath("app", v.App.ID, "endpoint", ep.ID), nil, nil); err != nil {
		return err
	}
	redirect(w, r, v.AppHome()+"?done=deleted")
	return nil
}
