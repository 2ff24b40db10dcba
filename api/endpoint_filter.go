package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/filter"
)

// An endpoint's filter (a Hookbridge addition): a CEL expression over the
// message that must hold for the endpoint to be owed it (package filter;
// the store evaluates it at fan-out). It is set with the input-only
// filter of EndpointIn, EndpointUpdate and EndpointPatch, or here, at
// …/endpoint/{endpoint_id}/filter, and read only here: EndpointOut stays
// exactly Svix's model.

// maxFilterTests is how many of the application's latest messages a filter
// test may run on.
const maxFilterTests = 100

// checkFilter checks a filter given in field: a blank one is none (""),
// any other must compile; the error names its line and column.
func checkFilter(expr string, fe *fieldErrors, field string) string {
	if strings.TrimSpace(expr) == "" {
		return ""
	}
	if _, err := filter.Compile(expr); err != nil {
		fe.body(err.Error(), field)
	}
	return expr
}

// endpointFilterOut is EndpointFilterOut: the endpoint's filter, null
// when it has none.
type endpointFilterOut struct {
	Filter *string `json:"filter"`
}

// endpointFilterIn is EndpointFilterIn, the body of PUT …/filter.
type endpointFilterIn struct {
	Filter *string `json:"filter"`
}

func (s *Server) handleGetEndpointFilter(w http.ResponseWriter, r *http.Request) error {
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, endpointFilterOut{Filter: nullable(ep.Filter)})
	return nil
}

// handleUpdateEndpointFilter sets the endpoint's filter. Removing it is
// DELETE: an empty filter here is a mistake more often than a wish.
func (s *Server) handleUpdateEndpointFilter(w http.ResponseWriter, r *http.Request) error {
	var in endpointFilterIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	switch {
	case in.Filter == nil:
		fe.body("field required", "filter")
	case strings.TrimSpace(*in.Filter) == "":
		fe.body("must not be empty; DELETE …/filter removes the filter", "filter")
	default:
		checkFilter(*in.Filter, &fe, "filter")
	}
	if err := fe.err(); err != nil {
		return err
	}
	return s.setEndpointFilter(w, r, *in.Filter)
}

// handleDeleteEndpointFilter removes the endpoint's filter: it gets every
// message its event types and channels take again.
func (s *Server) handleDeleteEndpointFilter(w http.ResponseWriter, r *http.Request) error {
	return s.setEndpointFilter(w, r, "")
}

func (s *Server) setEndpointFilter(w http.ResponseWriter, r *http.Request, expr string) error {
	_, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	if ep.Filter != expr {
		ep.Filter = expr
		if err := s.updateEndpoint(r.Context(), ep); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// filterTestIn is EndpointFilterTestIn: a filter (the endpoint's own when
// absent) and what to try it on, either one sample message (payload and
// eventType, channels optional) or the application's last messages.
type filterTestIn struct {
	Filter    *string         `json:"filter"`
	Payload   json.RawMessage `json:"payload"`
	EventType *string         `json:"eventType"`
	Channels  []string        `json:"channels"`
	Last      *int            `json:"last"`
}

// filterTestOut is EndpointFilterTestOut.
type filterTestOut struct {
	Data      []filterTestResult `json:"data"`
	Delivered int                `json:"delivered"`
}

// filterTestResult is EndpointFilterTestResult: what the endpoint would
// have done with one message. subscribed: its event types and channels
// take the message (whether it is enabled or not); matched: the filter
// holds; delivered: both. error: why the filter failed on the message
// (no match).
type filterTestResult struct {
	MsgID      *string `json:"msgId"`
	EventType  string  `json:"eventType"`
	Timestamp  *string `json:"timestamp"`
	Subscribed bool    `json:"subscribed"`
	Matched    bool    `json:"matched"`
	Delivered  bool    `json:"delivered"`
	Error      *string `json:"error"`
}

// handleTestEndpointFilter evaluates a filter on a sample message or on
// the application's last messages (newest first) and says which the
// endpoint would have been sent. Nothing is stored or sent.
func (s *Server) handleTestEndpointFilter(w http.ResponseWriter, r *http.Request) error {
	var in filterTestIn
	if err := s.decodeBody(r, &in, false); err != nil {
		return err
	}
	var fe fieldErrors
	if in.Filter != nil {
		if strings.TrimSpace(*in.Filter) == "" {
			fe.body("must not be empty; leave it out to test the endpoint's own filter", "filter")
		} else {
			checkFilter(*in.Filter, &fe, "filter")
		}
	}
	var channels []string
	switch {
	case in.Last != nil && (in.Payload != nil || in.EventType != nil || in.Channels != nil):
		fe.body("give either last or a sample message (payload, eventType, channels), not both", "last")
	case in.Last != nil:
		if *in.Last < 1 || *in.Last > maxFilterTests {
			fe.body("must be from 1 to 100", "last")
		}
	default:
		switch {
		case in.Payload == nil:
			fe.body("field required (or give last to test the application's last messages)", "payload")
		case !isJSONObject(in.Payload):
			fe.body("must be a JSON object", "payload")
		}
		if in.EventType == nil {
			fe.body("field required", "eventType")
		} else if msg := checkLimitedString(*in.EventType, maxNameLen); msg != "" {
			fe.body(msg, "eventType")
		}
		if in.Channels != nil {
			channels = normalizeSet(in.Channels, maxChannelLen, maxMessageChannels, &fe, "channels")
		}
	}
	if err := fe.err(); err != nil {
		return err
	}
	app, ep, err := s.endpoint(r)
	if err != nil {
		return err
	}
	expr := ep.Filter
	if in.Filter != nil {
		expr = *in.Filter
	}
	if expr == "" {
		fe.body("field required: the endpoint has no filter to test", "filter")
		return fe.err()
	}
	prg, err := filter.Compile(expr)
	if err != nil {
		// The endpoint's own filter, stored before it was checked as
		// now: the caller's to fix, not the server's failure.
		fe.body(err.Error(), "filter")
		return fe.err()
	}

	var msgs []hookbridge.Message
	if in.Last != nil {
		page, err := s.store.ListMessages(r.Context(), app.ID, hookbridge.MessageFilter{ListOptions: hookbridge.ListOptions{Limit: *in.Last}})
		if err != nil {
			return err
		}
		msgs = page.Data
	} else {
		msgs = []hookbridge.Message{{EventType: *in.EventType, Channels: channels, Payload: in.Payload}}
	}
	out := filterTestOut{Data: make([]filterTestResult, 0, len(msgs))}
	subscriber := *ep
	subscriber.Disabled = false // what it subscribes to, enabled or not
	for i := range msgs {
		m := &msgs[i]
		res := filterTestResult{EventType: m.EventType, Subscribed: subscriber.Accepts(m.EventType, m.Channels)}
		if m.ID != "" {
			res.MsgID, res.Timestamp = &m.ID, formatTimePtr(m.CreatedAt)
		}
		matched, err := evalFilter(prg, m)
		if err != nil {
			msg := err.Error()
			res.Error = &msg
		}
		res.Matched = matched
		res.Delivered = res.Subscribed && matched
		if res.Delivered {
			out.Delivered++
		}
		out.Data = append(out.Data, res)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// evalFilter evaluates prg on m as the fan-out does: an error is no match.
func evalFilter(prg *filter.Program, m *hookbridge.Message) (bool, error) {
	if m.Payload == nil {
		return false, errExpunged
	}
	in, err := filter.NewInput(m.EventType, m.Channels, m.Payload)
	if err != nil {
		return false, err
	}
	return prg.Match(in)
}

// errExpunged is the result of a test on a message whose payload was
// expunged (or purged by retention): there is nothing left to test.
var errExpunged = errors.New("the message's payload was expunged")
