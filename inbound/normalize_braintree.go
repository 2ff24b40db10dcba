// Normalisation of Braintree webhooks.
//
// Followed: Braintree's "Webhooks: notification kinds"
// (https://developer.paypal.com/braintree/docs/reference/general/webhooks/overview)
// and braintree/braintree_node, lib/braintree/webhook_notification.js and
// webhook_testing_gateway.js, whose sample payloads show the XML:
// <notification><kind>…</kind><timestamp>…</timestamp><subject>
// <transaction>|<dispute>…</subject></notification>, base64 in bt_payload.
// Amounts are decimal strings and are converted to minor units exactly.
//
//	transaction_settled                            payment.captured   (settlement is Braintree's capture outcome)
//	transaction_settlement_declined                payment.failed
//	dispute_opened                                 dispute.opened
//	dispute_won, dispute_lost, dispute_accepted,
//	dispute_auto_accepted                          dispute.closed
//
// Braintree notifications carry no event id; they are de-duplicated on the
// body.

package inbound

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

func normalizeBraintree(body []byte, _ *Verified, o NormalizeOptions) ([]Event, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("the body is not a form: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(form.Get("bt_payload"), "\n", ""))
	if err != nil {
		return nil, fmt.Errorf("bt_payload is not base64: %w", err)
	}
	tree, err := xmlTree(raw)
	if err != nil {
		return nil, fmt.Errorf("bt_payload: %w", err)
	}
	n := lookup(tree, "notification")
	if n == nil {
		return nil, errors.New("bt_payload has no <notification>")
	}
	e := Event{
		Type:       str(n, "kind"),
		Merchant:   merchantOf(n, "braintree", o),
		OccurredAt: parseRFC3339(str(n, "timestamp")),
	}
	tx := lookup(n, "subject.transaction")
	payment := Payload{ID: str(tx, "id"), Status: str(tx, "status"), Currency: str(tx, "currency-iso-code"), Reference: str(tx, "order-id")}
	payment.Amount = decimalToMinor(str(tx, "amount"), strings.ToUpper(payment.Currency))
	d := lookup(n, "subject.dispute")
	dispute := Payload{
		ID: str(d, "id"), Status: str(d, "status"), Currency: str(d, "currency-iso-code"),
		PaymentID: str(d, "transaction.id"), Reason: str(d, "reason"), Reference: str(d, "transaction.order-id"),
	}
	dispute.Amount = decimalToMinor(firstStr(d, "amount-disputed", "amount"), strings.ToUpper(dispute.Currency))
	switch e.Type {
	case "transaction_settled":
		e.Messages = one(PaymentCaptured, payment)
	case "transaction_settlement_declined":
		payment.Reason = str(tx, "processor-settlement-response-text")
		e.Messages = one(PaymentFailed, payment)
	case "dispute_opened":
		e.Messages = one(DisputeOpened, dispute)
	case "dispute_won", "dispute_lost", "dispute_accepted", "dispute_auto_accepted":
		e.Messages = one(DisputeClosed, dispute)
	}
	e.finish("braintree", "")
	return []Event{e}, nil
}

// Bounds on the XML a notification may hold: Braintree's are a few
// kilobytes, a few levels deep.
const (
	maxXMLDepth    = 32
	maxXMLElements = 10000
)

// xmlTree reads XML into the shape decodeJSON gives JSON: an element with
// children is a map of child name to value (a repeated name becomes a
// list), an element without children is its text. Attributes are dropped;
// Braintree's carry only types (type="datetime").
func xmlTree(data []byte) (any, error) {
	d := xml.NewDecoder(strings.NewReader(string(data)))
	d.Strict = true
	type frame struct {
		name     string
		children map[string]any
		text     strings.Builder
	}
	root := &frame{children: map[string]any{}}
	stack := []*frame{root}
	elements := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if elements++; elements > maxXMLElements {
				return nil, fmt.Errorf("more than %d elements", maxXMLElements)
			}
			if len(stack) > maxXMLDepth {
				return nil, fmt.Errorf("nested deeper than %d", maxXMLDepth)
			}
			stack = append(stack, &frame{name: t.Name.Local})
		case xml.CharData:
			top := stack[len(stack)-1]
			if top.text.Len() < 1<<16 {
				top.text.Write(t)
			}
		case xml.EndElement:
			if len(stack) < 2 {
				return nil, errors.New("unbalanced end element")
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var value any = strings.TrimSpace(f.text.String())
			if f.children != nil {
				value = f.children
			}
			parent := stack[len(stack)-1]
			if parent.children == nil {
				parent.children = map[string]any{}
			}
			switch prev := parent.children[f.name].(type) {
			case nil:
				parent.children[f.name] = value
			case []any:
				parent.children[f.name] = append(prev, value)
			default:
				parent.children[f.name] = []any{prev, value}
			}
		}
	}
	if len(stack) != 1 {
		return nil, errors.New("unclosed element")
	}
	return root.children, nil
}
