package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/hookbridge/hookbridge"
)

// Batch ingest is Hookbridge's addition to the Svix API: a producer with
// many events at hand sends them in one request, they are stored in one
// transaction (one commit, so one disk flush, for all of them), and each
// gets its own result, in order.

// MaxBatchMessages is the most messages one batch request may carry.
const MaxBatchMessages = 1000

// MaxBatchBody is the largest batch request body accepted, in bytes. When
// the single-message limit (the payload limit plus room for the envelope)
// is larger, that applies instead, so a batch can always carry one message
// of the largest payload.
const MaxBatchBody = 8 << 20

// messageBatchIn is the body of POST …/msg/batch. application, as on a
// single message, creates the application when it does not exist.
type messageBatchIn struct {
	Messages    []messageIn    `json:"messages"`
	Application *applicationIn `json:"application"`
}

// messageBatchOut answers a batch: one result per message, in order.
type messageBatchOut struct {
	Data []batchResultOut `json:"data"`
}

// batchResultOut is one message's result: the status it would have been
// answered alone, with the stored message (202) or what was wrong.
type batchResultOut struct {
	Status  int            `json:"status"`
	Message *messageOut    `json:"message,omitempty"`
	Error   *batchErrorOut `json:"error,omitempty"`
}

// batchErrorOut is HttpErrorOut, with the invalid fields of a 422.
type batchErrorOut struct {
	Code   string                `json:"code"`
	Detail string                `json:"detail"`
	Fields []validationErrorItem `json:"fields,omitempty"`
}

// handleCreateMessageBatch accepts many messages of one application. Each
// message is validated on its own: an invalid one gets its error in its
// result (with the field's location under body.messages.<index>) and the
// others are stored, all in one Store.CreateMessages transaction; then the
// dispatcher is woken once. Every message with status 202 is durable when
// the answer is sent. A repeated eventId, within the batch too, is a 409,
// as for a single message, whose result also carries the original message,
// so that a producer retrying a batch sees what was accepted before.
//
// The request as a whole fails only when it cannot be read (400, 413), its
// envelope is invalid (422: messages missing, empty or too many), or the
// application does not exist (404).
func (s *Server) handleCreateMessageBatch(w http.ResponseWriter, r *http.Request) error {
	var fe fieldErrors
	withContent := boolParam(r.URL.Query(), "with_content", true, &fe)
	body, err := s.readBodyUpTo(r, max(MaxBatchBody, s.maxBody))
	if err != nil {
		return err
	}
	in, itemErrs, err := decodeBatch(body)
	if err != nil {
		return err
	}
	switch n := len(in.Messages); {
	case in.Messages == nil:
		fe.body("field required", "messages")
	case n == 0:
		fe.body("must not be empty", "messages")
	case n > MaxBatchMessages:
		fe.body(fmt.Sprintf("must have at most %d items", MaxBatchMessages), "messages")
	}
	if in.Application != nil {
		in.Application.validate(&fe, "application")
	}
	if err := fe.err(); err != nil {
		return err
	}
	app, err := s.applicationOrCreate(r, in.Application)
	if err != nil {
		return err
	}

	out := make([]batchResultOut, len(in.Messages))
	msgs := make([]*hookbridge.Message, 0, len(in.Messages))
	index := make([]int, 0, len(in.Messages)) // msgs[j] is message index[j] of the batch
	now, trace := s.timeNow(), s.traceParent(r)
	for i := range in.Messages {
		if itemErrs[i] != nil {
			out[i] = batchError(itemErrs[i])
			continue
		}
		item := &in.Messages[i]
		var ife fieldErrors
		at := []string{"messages", strconv.Itoa(i)}
		payload, channels, err := s.checkMessageIn(item, &ife, at...)
		if item.Application != nil {
			ife.body("not allowed on a message of a batch; set application on the batch", append(at, "application")...)
		}
		if err == nil {
			err = ife.err()
		}
		if err != nil {
			out[i] = batchError(err)
			continue
		}
		msg := newMessage(item, app.ID, payload, channels, now)
		msg.TraceParent = trace
		msgs = append(msgs, msg)
		index = append(index, i)
	}

	unknownTypes, err := s.checkEventTypes(r.Context(), eventTypesOf(msgs)...)
	if err != nil {
		return err
	}
	if s.strictEventTypes {
		msgs, index = refuseUncatalogued(msgs, index, unknownTypes, out)
	}

	if len(msgs) > 0 {
		results, err := s.store.CreateMessages(r.Context(), msgs)
		if err != nil {
			return err
		}
		created := false
		for j, res := range results {
			i := index[j]
			if res.Err != nil { // the application was deleted meanwhile
				out[i] = batchError(res.Err)
				continue
			}
			m := toMessageOut(res.Message, withContent)
			if !res.Created {
				out[i] = batchError(eventIDTaken(res.Message))
				out[i].Message = &m
				continue
			}
			if _, bad := unknownTypes[res.Message.EventType]; bad {
				s.uncatalogued.accepted(res.Message.EventType)
			}
			out[i] = batchResultOut{Status: http.StatusAccepted, Message: &m}
			s.accepted.Inc()
			created = true
		}
		if created {
			s.wakeCreated()
		}
	}
	writeJSON(w, http.StatusOK, messageBatchOut{Data: out})
	return nil
}

// batchError is the result of a message that was not accepted.
func batchError(err error) batchResultOut {
	code := hookbridge.ErrorCode(err)
	e := &batchErrorOut{Code: code, Detail: hookbridge.ErrorMessage(err)}
	var ve *validationError
	if errors.As(err, &ve) {
		e.Fields = slices.Clone(ve.fields)
	}
	return batchResultOut{Status: statusOf(code), Error: e}
}

// decodeBatch decodes a batch body in one pass. A value of the wrong type
// inside a message fails that message alone: the body is then decoded again
// message by message, so that each such error is reported against its own
// message (encoding/json reports only the first, without its index). The
// returned slice holds those errors by message index.
func decodeBatch(body []byte) (messageBatchIn, []error, error) {
	var in messageBatchIn
	err := json.Unmarshal(body, &in)
	if err == nil {
		return in, make([]error, len(in.Messages)), nil
	}
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) ||
		!strings.HasPrefix(typeErr.Field, "messages.") && typeErr.Type != reflect.TypeFor[messageIn]() {
		// Not about one message: the body as a whole is wrong.
		if len(bytes.TrimSpace(body)) == 0 {
			return in, nil, decodeJSON(body, &in, false) // says so
		}
		return in, nil, jsonError(err)
	}
	var raw struct {
		Messages    []json.RawMessage `json:"messages"`
		Application *applicationIn    `json:"application"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return in, nil, jsonError(err)
	}
	in = messageBatchIn{Messages: make([]messageIn, len(raw.Messages)), Application: raw.Application}
	errs := make([]error, len(raw.Messages))
	for i, m := range raw.Messages {
		if err := json.Unmarshal(m, &in.Messages[i]); err != nil {
			errs[i] = batchItemJSONError(err, i)
		}
	}
	return in, errs, nil
}

// batchItemJSONError is jsonError for message i of a batch: the location
// names the message.
func batchItemJSONError(err error, i int) error {
	at := []string{"messages", strconv.Itoa(i)}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field == "" {
		var fe fieldErrors
		fe.body("must be a JSON object", at...)
		fe[0].Type = "type_error"
		return fe.err()
	}
	var ve *validationError
	if !errors.As(jsonError(err), &ve) {
		return err
	}
	for k := range ve.fields {
		f := &ve.fields[k]
		f.Loc = append(append([]string{"body"}, at...), f.Loc[1:]...)
	}
	return ve.fields.err()
}
