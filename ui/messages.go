package ui

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookbridge/hookbridge"
)

// This file holds what the dashboard and the portal share about messages:
// searching an application's messages, and a message's page with its
// destinations and attempts.

// searchPageSize is how many messages a search shows per page.
const searchPageSize = 25

// messageSearch is the message search form: by eventId (or message id),
// event type, endpoint and status, and date.
type messageSearch struct {
	EventID   string
	EventType string
	Endpoint  string // an endpoint id; needed to filter by status
	Status    string // "" or a MessageStatus number
	After     string // datetime-local, UTC
	Before    string
	Iterator  string

	// Action is where the form is sent, MsgBase what a message's id is
	// appended to for its page. ReplayAction, on the dashboard, is where
	// the form that replays the messages found to an endpoint is sent.
	Action, MsgBase, ReplayAction string

	// Results.
	Messages []messageRow
	// Next is the query string of the next page, "" when done. It is
	// encoded here (url.Values), so the template takes it as it is.
	Next     template.URL
	Searched bool // a filter was given
	Statuses []statusOption
	Types    []hookbridge.EventType
	Ends     []hookbridge.Endpoint
}

// messageRow is a found message, with its status at the searched endpoint
// when there was one, else the outcome of all its deliveries.
type messageRow struct {
	Message   hookbridge.Message
	Status    hookbridge.MessageStatus
	HasStatus bool
	Outcome   outcome
}

// outcome sums up a message's deliveries, each by its latest status.
type outcome struct {
	Succeeded, Failed, Pending int
}

// outcomeOf counts the deliveries of a message by their status: pending
// and sending (a retry is scheduled) are both still pending.
func outcomeOf(dests []hookbridge.MessageEndpoint) outcome {
	var o outcome
	for _, d := range dests {
		switch d.Status {
		case hookbridge.StatusSuccess:
			o.Succeeded++
		case hookbridge.StatusFail, hookbridge.StatusCanceled:
			o.Failed++
		default:
			o.Pending++
		}
	}
	return o
}

// State is the message's status in one word: pending while a delivery is
// not final, then failed if one failed, succeeded if all succeeded, and
// "none" when it was owed to no endpoint.
func (o outcome) State() string {
	switch {
	case o.Pending > 0:
		return "pending"
	case o.Failed > 0:
		return "failed"
	case o.Succeeded > 0:
		return "succeeded"
	}
	return "none"
}

// Class is the badge class of State, in the classes of the delivery
// statuses.
func (o outcome) Class() string {
	return map[string]string{"pending": "pending", "failed": "fail", "succeeded": "success"}[o.State()]
}

// Detail counts the deliveries when they did not all end alike, e.g. "1
// succeeded, 1 failed"; "" otherwise.
func (o outcome) Detail() string {
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{o.Succeeded, "succeeded"}, {o.Failed, "failed"}, {o.Pending, "pending"}} {
		if c.n > 0 {
			parts = append(parts, strconv.Itoa(c.n)+" "+c.word)
		}
	}
	if len(parts) < 2 {
		return ""
	}
	return strings.Join(parts, ", ")
}

type statusOption struct {
	Value, Label string
}

// statusOptions are the message statuses in the API's numbering.
var statusOptions = []statusOption{
	{strconv.Itoa(int(hookbridge.StatusSuccess)), "success"},
	{strconv.Itoa(int(hookbridge.StatusPending)), "pending"},
	{strconv.Itoa(int(hookbridge.StatusSending)), "sending"},
	{strconv.Itoa(int(hookbridge.StatusFail)), "fail"},
}

// searchMessages runs the search the query asks for in the application's
// messages. Problems with a field go into v.Errors beside that field.
func (h *Handler) searchMessages(ctx context.Context, q url.Values, appID string, v *view) (*messageSearch, error) {
	m := &messageSearch{
		EventID:   strings.TrimSpace(q.Get("event_id")),
		EventType: q.Get("event_type"),
		Endpoint:  q.Get("endpoint"),
		Status:    q.Get("status"),
		After:     q.Get("after"),
		Before:    q.Get("before"),
		Iterator:  q.Get("iterator"),
		Statuses:  statusOptions,
	}
	m.Searched = m.EventID != "" || m.EventType != "" || m.Endpoint != "" || m.Status != "" || m.After != "" || m.Before != ""
	ends, err := h.store.ListEndpoints(ctx, appID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit, Order: hookbridge.OrderAscending})
	if err != nil {
		return nil, err
	}
	m.Ends = ends.Data

	if m.EventID != "" {
		if !validRef(m.EventID) {
			v.Errors["event_id"] = "An eventId or message id has only letters, digits, '-', '_' and '.'."
			return m, nil
		}
		msg, err := h.store.GetMessage(ctx, appID, m.EventID)
		if hookbridge.IsNotFound(err) {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		m.Messages = []messageRow{{Message: *msg}}
		if err := h.addOutcomes(ctx, appID, m.Messages); err != nil {
			return nil, err
		}
		return m, nil
	}

	var types []string
	if m.EventType != "" {
		if !validRef(m.EventType) {
			v.Errors["event_type"] = "Not an event type name."
		}
		types = []string{m.EventType}
	}
	after, ok := parseInputTime(m.After)
	if !ok {
		v.Errors["after"] = "Enter a date and time, e.g. 2025-06-01T12:00."
	}
	before, ok := parseInputTime(m.Before)
	if !ok {
		v.Errors["before"] = "Enter a date and time, e.g. 2025-06-01T12:00."
	}
	var status *hookbridge.MessageStatus
	if m.Status != "" {
		n, err := strconv.Atoi(m.Status)
		if err != nil || n < 0 || n > 3 {
			v.Errors["status"] = "Pick a status from the list."
		} else {
			st := hookbridge.MessageStatus(n)
			status = &st
		}
		if m.Endpoint == "" {
			v.Errors["status"] = "Pick an endpoint too: a message has a status at each endpoint it was sent to."
		}
	}
	if m.Iterator != "" && !hookbridge.HasPrefix(m.Iterator, hookbridge.PrefixMessage) {
		m.Iterator = ""
	}
	if len(v.Errors) > 0 {
		return m, nil
	}
	opt := hookbridge.ListOptions{Limit: searchPageSize, Iterator: m.Iterator}
	var last string
	var done bool
	if m.Endpoint != "" {
		i := slices.IndexFunc(m.Ends, func(e hookbridge.Endpoint) bool { return e.ID == m.Endpoint })
		if i < 0 {
			v.Errors["endpoint"] = "Pick an endpoint from the list."
			return m, nil
		}
		page, err := h.store.ListEndpointMessages(ctx, appID, m.Endpoint, hookbridge.EndpointMessageFilter{
			MessageFilter: hookbridge.MessageFilter{ListOptions: opt, EventTypes: types, Before: before, After: after},
			Status:        status,
		})
		if err != nil {
			return nil, err
		}
		for _, em := range page.Data {
			m.Messages = append(m.Messages, messageRow{Message: em.Message, Status: em.Status, HasStatus: true})
		}
		done = page.Done
	} else {
		page, err := h.store.ListMessages(ctx, appID, hookbridge.MessageFilter{
			ListOptions: opt, EventTypes: types, Before: before, After: after,
		})
		if err != nil {
			return nil, err
		}
		for _, msg := range page.Data {
			m.Messages = append(m.Messages, messageRow{Message: msg})
		}
		if err := h.addOutcomes(ctx, appID, m.Messages); err != nil {
			return nil, err
		}
		done = page.Done
	}
	if n := len(m.Messages); n > 0 {
		last = m.Messages[n-1].Message.ID
	}
	if !done && last != "" {
		next := url.Values{}
		for _, k := range []string{"event_type", "endpoint", "status", "after", "before"} {
			if val := q.Get(k); val != "" {
				next.Set(k, val)
			}
		}
		next.Set("iterator", last)
		m.Next = template.URL(next.Encode())
	}
	return m, nil
}

// addOutcomes sums up the deliveries of each message of a page of results
// (searchPageSize of them, one read each).
func (h *Handler) addOutcomes(ctx context.Context, appID string, rows []messageRow) error {
	for i := range rows {
		dests, err := h.store.ListMessageEndpoints(ctx, appID, rows[i].Message.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
		if err != nil {
			return err
		}
		rows[i].Outcome = outcomeOf(dests.Data)
	}
	return nil
}

// messagePage is a message with where it was sent and every attempt.
type messagePage struct {
	Message      hookbridge.Message
	Destinations []hookbridge.MessageEndpoint
	Attempts     []attemptView
	// Pending is set while a destination is not final, so the page keeps
	// itself up to date (static/app.js).
	Pending bool
	// ScheduledFor is when a scheduled message (deliverAt) is to go out:
	// the earliest time an untried destination waits for, when that is
	// still ahead; zero otherwise.
	ScheduledFor time.Time
	// ResendPath is where the resend form posts.
	ResendPath string
	BackPath   string
	BackLabel  string
}

// attemptView is an attempt with the request it made, as far as it can be
// told again: the method, URL, the headers that identify the message, and
// the payload.
type attemptView struct {
	hookbridge.Attempt
	Headers [][2]string
	Body    string
}

// maxAttemptsShown bounds the attempts listed on a message's page.
const maxAttemptsShown = 100

// loadMessage builds a message's page.
func (h *Handler) loadMessage(ctx context.Context, appID, ref string) (*messagePage, error) {
	msg, err := h.store.GetMessage(ctx, appID, ref)
	if err != nil {
		return nil, err
	}
	dests, err := h.store.ListMessageEndpoints(ctx, appID, msg.ID, hookbridge.ListOptions{Limit: hookbridge.MaxListLimit})
	if err != nil {
		return nil, err
	}
	attempts, err := h.store.ListAttempts(ctx, appID, hookbridge.AttemptFilter{
		ListOptions: hookbridge.ListOptions{Limit: maxAttemptsShown}, MsgID: msg.ID,
	})
	if err != nil {
		return nil, err
	}
	p := &messagePage{Message: *msg, Destinations: dests.Data}
	now := h.now()
	for _, d := range dests.Data {
		if !d.Status.Final() {
			p.Pending = true
		}
		if d.Status == hookbridge.StatusPending && d.NextAttempt.After(now) &&
			(p.ScheduledFor.IsZero() || d.NextAttempt.Before(p.ScheduledFor)) {
			p.ScheduledFor = d.NextAttempt
		}
	}
	body := prettyJSON(msg.Payload)
	for _, a := range attempts.Data {
		p.Attempts = append(p.Attempts, attemptView{
			Attempt: a,
			Headers: [][2]string{
				{"content-type", "application/json"},
				{"webhook-id", msg.ID},
				{"webhook-timestamp", strconv.FormatInt(a.CreatedAt.Unix(), 10)},
				{"webhook-signature", "v1,… (made with the endpoint's signing secret)"},
			},
			Body: body,
		})
	}
	return p, nil
}

// resendTarget reads the endpoint a resend form names.
func resendTarget(r *http.Request) (string, error) {
	ep := r.PostForm.Get("endpoint")
	if !validRef(ep) {
		return "", hookbridge.Errorf(hookbridge.EBADREQUEST, "the form names no endpoint to send to")
	}
	return ep, nil
}
