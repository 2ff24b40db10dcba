package filter

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

const payment = `{"amount": 7500, "currency": "EUR", "fee": 12.5, "merchant": {"id": "m_1", "tier": "gold"},
	"lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}], "note": null, "big": 1e3, "test": false}`

func TestMatch(t *testing.T) {
	t.Parallel()
	in, err := NewInput("payment.captured", []string{"eu", "shop-7"}, json.RawMessage(payment))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		expr    string
		want    bool
		evalErr bool // the evaluation fails: no match
	}{
		{`payload.amount >= 5000 && payload.currency == "EUR"`, true, false},
		{`payload.amount >= 5000 && payload.currency == "USD"`, false, false},
		{`payload.amount > 7500.5`, false, false}, // int against double compares
		{`payload.fee == 12.5`, true, false},
		{`payload.big == 1000`, true, false}, // 1e3 is a double, equal to the int
		{`payload.amount % 100 == 0`, true, false},
		{`payload.merchant.tier in ["gold", "platinum"]`, true, false},
		{`payload.lines.exists(l, l.sku == "B" && l.qty == 1)`, true, false},
		{`payload.lines.all(l, l.qty > 1)`, false, false},
		{`size(payload.lines) == 2`, true, false},
		{`eventType.startsWith("payment.")`, true, false},
		{`eventType == "refund.succeeded"`, false, false},
		{`"eu" in channels`, true, false},
		{`channels.exists(c, c.startsWith("shop-"))`, true, false},
		{`has(payload.refund)`, false, false},
		{`has(payload.merchant.id)`, true, false},
		{`payload.note == null`, true, false},
		{`payload.?region.orValue("none") == "none"`, true, false},
		{`!payload.test`, true, false},
		{`payload.merchant.id.matches("^m_[0-9]+$")`, true, false},
		// Failures at evaluation: no match, with the error.
		{`payload.region == "EU"`, false, true},           // no such key
		{`payload.amount + payload.fee > 0`, false, true}, // int + double
		{`payload.currency`, false, true},                 // a string, not a bool
		{`payload.lines.map(a, payload.lines.map(b, payload.lines.map(c, payload.lines.map(d, payload.lines.map(e, payload.lines.map(f, payload.lines.map(g, payload.lines.map(h, payload.lines.map(i, payload.lines.map(j, payload.lines.map(k, payload.lines.map(l, payload.lines.map(m, payload.lines.map(n, 1)))))))))))))).size() > 0`, false, true}, // over the cost limit
	} {
		p, err := Compile(tc.expr)
		if err != nil {
			t.Errorf("Compile(%s): %v", tc.expr, err)
			continue
		}
		got, err := p.Match(in)
		if got != tc.want || (err != nil) != tc.evalErr {
			t.Errorf("%s: (%v, %v), want %v with error %v", tc.expr, got, err, tc.want, tc.evalErr)
		}
	}
}

func TestMatchCostLimit(t *testing.T) {
	t.Parallel()
	// Nor can constant lists add up past it: their cost is known, and too
	// high.
	ten := "[1,2,3,4,5,6,7,8,9,10]"
	p, err := Compile(ten + ".all(a, " + ten + ".all(b, " + ten + ".all(c, " + ten + ".all(d, a + b + c + d > 0))))")
	if err != nil {
		t.Fatal(err)
	}
	none, err := NewInput("x", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Match(none); got || err == nil || !strings.Contains(err.Error(), "cost") {
		t.Errorf("10,000 constant iterations: (%v, %v), want no match and a cost error", got, err)
	}
	// A macro over a large list stops at the limit, however long the list.
	items := make([]string, 20_000)
	for i := range items {
		items[i] = `{"k":1}`
	}
	payload := json.RawMessage(`{"items":[` + strings.Join(items, ",") + `]}`)
	in, err := NewInput("x", nil, payload)
	if err != nil {
		t.Fatal(err)
	}
	p, err = Compile(`payload.items.all(i, i.k == 1)`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Match(in); got || err == nil || !strings.Contains(err.Error(), "cost") {
		t.Errorf("over the cost limit: (%v, %v), want no match and a cost error", got, err)
	}
	small, err := NewInput("x", nil, json.RawMessage(`{"items":[{"k":1},{"k":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.Match(small); !got || err != nil {
		t.Errorf("within the limit: (%v, %v), want a match", got, err)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr         string
		line, column int
		msg          string
	}{
		{`paylod.amount > 1`, 1, 1, "undeclared reference to 'paylod'"},
		{`payload.amount >= 5000 && payload.currency = "EUR"`, 1, 44, ""},
		{"eventType == \"a\" &&\n  payload.x >", 2, 14, ""},
		{`eventType + 1 == 2`, 1, 11, "no matching overload"},
		{`eventType`, 1, 1, "gives string, not a bool"},
		{`1 + 2`, 1, 1, "gives int, not a bool"},
		{``, 0, 0, "empty"},
		{`   `, 0, 0, "empty"},
		{strings.Repeat("true && ", 300) + "true", 0, 0, "the limit is 2048"},
		{strings.Repeat("(", 40) + "true" + strings.Repeat(")", 40), 0, 0, "recursion limit"}, // too deep
	} {
		_, err := Compile(tc.expr)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%.40q) = %v, want an *Error", tc.expr, err)
			continue
		}
		if fe.Line != tc.line || (tc.column != 0 && fe.Column != tc.column) {
			t.Errorf("Compile(%.40q): at %d:%d, want %d:%d (%v)", tc.expr, fe.Line, fe.Column, tc.line, tc.column, err)
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Compile(%.40q) = %q, want it to say %q", tc.expr, err, tc.msg)
		}
		if strings.Contains(err.Error(), "container") {
			t.Errorf("Compile(%.40q) = %q: CEL's container note left in", tc.expr, err)
		}
	}
}

func TestNewInput(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{`{"a":`, `{} {}`, `nope`} {
		if _, err := NewInput("x", nil, json.RawMessage(bad)); err == nil {
			t.Errorf("NewInput(%s): no error", bad)
		}
	}
	// An expunged payload is null: a filter on it fails, one that does
	// not read it still matches.
	in, err := NewInput("order.created", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := Compile(`payload.amount > 1`)
	if got, err := p.Match(in); got || err == nil {
		t.Errorf("on a null payload: (%v, %v), want an error", got, err)
	}
	p, _ = Compile(`eventType == "order.created" && size(channels) == 0`)
	if got, err := p.Match(in); !got || err != nil {
		t.Errorf("without payload: (%v, %v), want a match", got, err)
	}
	// A huge integer is a double, not an error.
	in, err = NewInput("x", nil, json.RawMessage(`{"n": 123456789012345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	p, _ = Compile(`payload.n > 1e29`)
	if got, err := p.Match(in); !got || err != nil {
		t.Errorf("huge integer: (%v, %v), want a match", got, err)
	}
}

// TestConcurrentMatch runs one program on one input from several
// goroutines (under -race).
func TestConcurrentMatch(t *testing.T) {
	t.Parallel()
	p, err := Compile(`payload.amount >= 5000 && "eu" in channels`)
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewInput("payment.captured", []string{"eu"}, json.RawMessage(payment))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 100 {
				if m, err := p.Match(in); !m || err != nil {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent match failed")
		}
	}
}

// TestDocumentedExamples: every example of docs/delivery.md's Filters
// section compiles, and matches a message it was written for.
func TestDocumentedExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/delivery.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Filters")
	_, block, ok := strings.Cut(section, "```\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("no example block in the Filters section of docs/delivery.md")
	}
	in, err := NewInput("refund.succeeded", []string{"store-17"}, json.RawMessage(`{"amount": 7500, "currency": "EUR",
		"processor": "adyen", "status": "failed", "refund": {"reason": "customer"}, "merchant": {"tier": "gold"},
		"lines": [{"sku": "GIFT-1"}], "customerEmail": "a@example.com", "reference": "ord_42"}`))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(block) {
		expr := strings.TrimSpace(line)
		if expr == "" {
			continue
		}
		n++
		p, err := Compile(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if ok, err := p.Match(in); !ok || err != nil {
			t.Errorf("%s: (%v, %v), want a match", expr, ok, err)
		}
	}
	if n < 5 {
		t.Errorf("only %d examples found", n)
	}
}
