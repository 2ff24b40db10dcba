package inbound_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookbridge/hookbridge/inbound"
)

// amountCase is a notification carrying an amount in one currency and the
// minor units it must become.
type amountCase struct {
	scheme, currency string
	body             string
	verified         inbound.Verified
	want             *int64 // nil: the amount cannot be read exactly and is left out
}

func minor(n int64) *int64 { return &n }

// amountCases: for each processor that writes amounts, one notification in
// JPY (no minor unit), EUR (hundredths) and KWD (thousandths). PayPal,
// Braintree, Mollie and Shopify write decimal major units, converted with
// the currency's exponent; the others write minor units already, which
// pass through unchanged.
func amountCases() []amountCase {
	var out []amountCase
	add := func(scheme, currency, body string, want *int64, v ...inbound.Verified) {
		c := amountCase{scheme: scheme, currency: currency, body: body, want: want}
		if len(v) > 0 {
			c.verified = v[0]
		}
		out = append(out, c)
	}
	decimal := []struct {
		currency, value string
		want            *int64
	}{
		{"JPY", "1500", minor(1500)},
		{"JPY", "1500.00", minor(1500)}, // trailing zeros beyond the currency's decimals
		{"EUR", "10.99", minor(1099)},
		{"EUR", "10.5", minor(1050)},
		{"KWD", "3.125", minor(3125)},
		{"KWD", "3", minor(3000)},
		{"JPY", "1500.5", nil}, // more decimals than the currency has
		{"EUR", "10.999", nil},
	}
	for _, d := range decimal {
		add("paypal", d.currency, strings.NewReplacer(`"USD"`, `"`+d.currency+`"`, `"30.00"`, `"`+d.value+`"`).Replace(paypalCaptureCompleted), d.want)
		add("braintree", d.currency, braintreeBody(strings.NewReplacer("<amount>10.50</amount>", "<amount>"+d.value+"</amount>",
			"<currency-iso-code>USD</currency-iso-code>", "<currency-iso-code>"+d.currency+"</currency-iso-code>").Replace(braintreeSettled)), d.want)
		add("mollie", d.currency, mollieEvent("payment-link.paid", "pl_qng5gbbv8NAZ5gpM5ZYgx", mollieLink(d.currency, d.value)), d.want)
		add("shopify", d.currency, shopifyOrder(d.currency, d.value, "paid", ""), d.want,
			inbound.Verified{Topic: "orders/paid", Merchant: "shop1.myshopify.com"})
		add("shopify", d.currency, shopifyDispute(d.currency, d.value, "needs_response"), d.want,
			inbound.Verified{Topic: "disputes/create", Merchant: "shop1.myshopify.com"})
	}
	// A Shopify refund is the sum of its successful refund transactions.
	for _, d := range []struct {
		currency, a, b string
		want           int64
	}{{"JPY", "1000", "500", 1500}, {"EUR", "10.99", "0.01", 1100}, {"KWD", "3.125", "0.875", 4000}} {
		body := shopifyRefund(d.currency, `"`+d.a+`"`, "success")
		second := strings.Replace(body[strings.Index(body, `{"id":245135101`):strings.Index(body, `],"order_adjustments"`)], `"`+d.a+`"`, `"`+d.b+`"`, 1)
		body = strings.Replace(body, `],"order_adjustments"`, ","+second+`],"order_adjustments"`, 1)
		add("shopify", d.currency, body, minor(d.want), inbound.Verified{Topic: "refunds/create"})
	}
	minorUnits := []struct {
		currency string
		value    int64
	}{{"JPY", 1500}, {"EUR", 1099}, {"KWD", 3125}}
	for _, m := range minorUnits {
		v := fmt.Sprint(m.value)
		add("worldpay", m.currency, worldpayEvent("payment", "authorized", int(m.value), m.currency), minor(m.value))
		add("stripe", m.currency, strings.NewReplacer(`"amount_received": 2000`, `"amount_received": `+v, `"usd"`, `"`+strings.ToLower(m.currency)+`"`).Replace(stripePISucceeded), minor(m.value))
		add("adyen", m.currency, `{"live":"false","notificationItems":[{"NotificationRequestItem":{"amount":{"currency":"`+m.currency+`","value":`+v+`},
"eventCode":"AUTHORISATION","merchantAccountCode":"AcmeEU","pspReference":"8815329842815468","success":"true"}}]}`, minor(m.value))
		add("checkout", m.currency, strings.NewReplacer(`"amount": 6540, "currency": "GBP"`, `"amount": `+v+`, "currency": "`+m.currency+`"`).Replace(checkoutCaptured), minor(m.value))
		add("square", m.currency, strings.Replace(squarePaymentCompleted, `{"amount": 100, "currency": "USD"}`, `{"amount": `+v+`, "currency": "`+m.currency+`"}`, 1), minor(m.value))
		add("razorpay", m.currency, strings.NewReplacer(`"amount": 100, "currency": "INR"`, `"amount": `+v+`, "currency": "`+m.currency+`"`).Replace(razorpayCaptured), minor(m.value))
	}
	return out
}

// TestAmountsMinorUnits: amounts are integers in the currency's minor unit
// whatever the processor writes, with ISO 4217's exponent (JPY 0, EUR 2,
// KWD 3); an amount that cannot be read exactly is left out, and so is its
// currency.
func TestAmountsMinorUnits(t *testing.T) {
	t.Parallel()
	for _, c := range amountCases() {
		events, err := inbound.Normalize(c.scheme, []byte(c.body), &c.verified, inbound.NormalizeOptions{})
		if err != nil {
			t.Errorf("%s %s: %v", c.scheme, c.currency, err)
			continue
		}
		if len(events) != 1 || len(events[0].Messages) != 1 {
			t.Errorf("%s %s: %+v, want one message", c.scheme, c.currency, events)
			continue
		}
		p := events[0].Messages[0].Payload
		switch {
		case c.want == nil && p.Amount != nil:
			t.Errorf("%s %s: amount %d, want none (it cannot be read exactly)", c.scheme, c.currency, *p.Amount)
		case c.want != nil && (p.Amount == nil || *p.Amount != *c.want || p.Currency != c.currency):
			t.Errorf("%s %s: amount %v %s, want %d %s", c.scheme, c.currency, deref(p.Amount), p.Currency, *c.want, c.currency)
		}
	}
}

func TestCurrencyExponent(t *testing.T) {
	t.Parallel()
	for currency, want := range map[string]int{"JPY": 0, "jpy": 0, "KRW": 0, "EUR": 2, "USD": 2, "GBP": 2, "KWD": 3, "BHD": 3, "CLF": 4, "XYZ": 2} {
		if got := inbound.CurrencyExponent(currency); got != want {
			t.Errorf("CurrencyExponent(%s) = %d, want %d", currency, got, want)
		}
	}
}
