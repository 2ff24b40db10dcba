package filter

import (
	"encoding/json"
	"testing"
)

// BenchmarkMatch is one evaluation of a typical filter on a decoded
// payment event, what the fan-out pays per filtered endpoint.
func BenchmarkMatch(b *testing.B) {
	p, err := Compile(`payload.amount >= 1000 && payload.currency == "EUR"`)
	if err != nil {
		b.Fatal(err)
	}
	in, err := NewInput("payment.captured", nil, json.RawMessage(`{"paymentId":"pay_8f2c1e","amount":4250,"currency":"EUR","processor":"adyen"}`))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := p.Match(in); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
