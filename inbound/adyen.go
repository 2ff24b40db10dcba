// Scheme "adyen": Adyen's standard notification webhooks, signed per item in
// additionalData.hmacSignature.
//
// Followed: Adyen/adyen-go-api-library, src/hmacvalidator/hmacvalidator.go
// (GetDataToSign, CalculateHmac, ValidateHmac), and for an item without an
// amount Adyen/adyen-java-api-library, src/main/java/com/adyen/util/
// HMACValidator.java, whose getDataToSign signs empty value and currency
// fields (the Go library would sign "0"). The signed content of each item is
//
//	pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success
//
// with absent fields empty; the key is the hex string the Customer Area shows,
// decoded; the signature is the base64 HMAC-SHA256. A batch is accepted only
// if every item verifies: one forged item would otherwise ride in on the
// genuine ones. Adyen expects the answer "[accepted]".
//
// Only those eight fields are signed. The rest of an item (additionalData,
// eventDate, paymentMethod, reason) is protected by TLS alone, so whatever
// acts on a notification should take amounts, references and outcomes from
// the signed fields.

package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxAdyenItems bounds the items read from one notification. Adyen sends
// batches of a handful; each item costs a MAC.
const maxAdyenItems = 1000

type adyenScheme struct {
	key []byte
}

// adyenKey decodes an Adyen HMAC key: the hex string the Customer Area shows.
func adyenKey(secret string) ([]byte, error) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return nil, errors.New("the HMAC key (hex, as the Customer Area shows it) is required")
	}
	key, err := hex.DecodeString(secret)
	if err != nil {
		return nil, errors.New("the HMAC key is not hex")
	}
	return key, nil
}

func newAdyen(c Credentials, _ options) (verifier, error) {
	key, err := adyenKey(c.Secret)
	if err != nil {
		return nil, err
	}
	return &adyenScheme{key: key}, nil
}

// adyenNotification is the JSON notification, read only as far as the
// signature needs.
type adyenNotification struct {
	NotificationItems []struct {
		Item *adyenItem `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

type adyenItem struct {
	PspReference        string `json:"pspReference"`
	OriginalReference   string `json:"originalReference"`
	MerchantAccountCode string `json:"merchantAccountCode"`
	MerchantReference   string `json:"merchantReference"`
	EventCode           string `json:"eventCode"`
	Success             string `json:"success"`
	Amount              *struct {
		Value    *json.Number `json:"value"`
		Currency *string      `json:"currency"`
	} `json:"amount"`
	AdditionalData map[string]json.RawMessage `json:"additionalData"`
}

// signedData returns the item's signed content, or an error if its amount is
// not an integer in minor units.
func (it *adyenItem) signedData() ([]byte, error) {
	var value, currency string
	if it.Amount != nil {
		if it.Amount.Value != nil {
			n, err := strconv.ParseInt(it.Amount.Value.String(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("amount.value %.20q is not an integer", it.Amount.Value.String())
			}
			value = strconv.FormatInt(n, 10)
		}
		if it.Amount.Currency != nil {
			currency = *it.Amount.Currency
		}
	}
	return []byte(strings.Join([]string{
		it.PspReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		value, currency, it.EventCode, it.Success,
	}, ":")), nil
}

func (s *adyenScheme) verify(_ context.Context, req *Request, _ time.Time) (*Verified, error) {
	const name = "adyen"
	// Unmarshal, not a Decoder: bytes after the notification would not be
	// covered by any item's signature, so they are refused with the rest.
	var n adyenNotification
	if err := json.Unmarshal(req.Body, &n); err != nil {
		return nil, &Error{Scheme: name, Reason: ReasonMalformedBody, Detail: "not an Adyen JSON notification: " + err.Error(), Err: err}
	}
	items := n.NotificationItems
	if len(items) == 0 {
		return nil, refuse(name, ReasonMalformedBody, "the notification has no notificationItems")
	}
	if len(items) > maxAdyenItems {
		return nil, refuse(name, ReasonMalformedBody, "%d notification items, at most %d are read", len(items), maxAdyenItems)
	}
	eventIDs := make([]string, 0, len(items))
	for i, wrapper := range items {
		it := wrapper.Item
		if it == nil {
			return nil, refuse(name, ReasonMalformedBody, "item %d of %d has no NotificationRequestItem", i+1, len(items))
		}
		given := jsonScalar(it.AdditionalData["hmacSignature"])
		if given == "" {
			return nil, refuse(name, ReasonMissingHeader, "item %d of %d (pspReference %.40q) has no additionalData.hmacSignature; the batch is refused whole", i+1, len(items), it.PspReference)
		}
		data, err := it.signedData()
		if err != nil {
			return nil, refuse(name, ReasonMalformedBody, "item %d of %d: %v", i+1, len(items), err)
		}
		want := base64.StdEncoding.EncodeToString(macOf(sha256.New, s.key, data))
		// Compared as the base64 text, as the SDKs do.
		if !hmac.Equal([]byte(given), []byte(want)) {
			return nil, refuse(name, ReasonSignatureMismatch, "item %d of %d (pspReference %.40q) does not verify; the batch is refused whole", i+1, len(items), it.PspReference)
		}
		eventIDs = append(eventIDs, adyenEventID(it))
	}
	return &Verified{EventIDs: eventIDs}, nil
}

// adyenEventID is the de-duplication key of one item: eventCode and
// pspReference identify the event at Adyen. The success flag is part of the
// key so that a later notification reporting another outcome for the same
// event is kept, not dropped as a duplicate of the first.
func adyenEventID(it *adyenItem) string {
	return it.EventCode + ":" + it.PspReference + ":" + it.Success
}
