package inbound

import (
	"strconv"
	"strings"
)

// currencyExponents are the ISO 4217 currencies whose minor unit is not a
// hundredth, with the number of decimals it has; every other currency has
// two. It is the one table of currency exponents in Hookbridge: every
// amount a canonical payload carries is an integer in these minor units,
// whatever the processor wrote.
var currencyExponents = map[string]int{
	// No minor unit.
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// Thousandths.
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// Ten-thousandths (units of account).
	"CLF": 4, "UYW": 4,
}

// CurrencyExponent returns the number of decimals of the currency's minor
// unit under ISO 4217: 0 for JPY, 2 for EUR, 3 for KWD. The code is
// matched case-insensitively; a code not in the table has 2.
func CurrencyExponent(currency string) int {
	if e, ok := currencyExponents[strings.ToUpper(currency)]; ok {
		return e
	}
	return 2
}

// isCurrencyCode reports whether s has the shape of an ISO 4217 code:
// three ASCII letters.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// decimalToMinor converts a decimal amount in major units, as PayPal,
// Braintree, Mollie and Shopify write it ("10.99", "1000", "3.125",
// "-5.5"), to minor units of the currency, exactly (no floating point):
// "10.99" EUR is 1099, "1500" JPY is 1500, "3.125" KWD is 3125. Trailing
// zeros beyond the currency's decimals are accepted ("1500.00" JPY). A
// value with more significant decimals than the currency has, one that
// does not fit, or a currency that is not a three-letter code gives nil:
// an amount that cannot be read exactly is left out rather than guessed.
func decimalToMinor(s, currency string) *int64 {
	if !isCurrencyCode(currency) {
		return nil
	}
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	digits := CurrencyExponent(currency)
	frac = strings.TrimRight(frac, "0")
	if whole == "" || len(frac) > digits || len(whole) > 15 {
		return nil
	}
	frac += strings.Repeat("0", digits-len(frac))
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return nil
		}
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return nil
	}
	if neg {
		n = -n
	}
	return &n
}
