package backfill

// PayPal: GET /v1/notifications/webhooks-events, signed in with an OAuth
// 2.0 client-credentials token. Followed: PayPal's Webhooks Management v1
// reference (https://developer.paypal.com/api/webhooks/v1/, "List event
// notifications", and its OpenAPI description
// github.com/paypal/paypal-rest-api-specifications,
// openapi/notifications_webhooks_v1.json) and "Authentication"
// (https://developer.paypal.com/api/rest/authentication/): POST
// /v1/oauth2/token with HTTP Basic client_id:secret and
// grant_type=client_credentials answers {access_token, token_type,
// expires_in}. The list takes start_time (RFC 3339) and page_size (at most
// 300), answers {events: [...], count, links: [{href, rel, method}]}, and
// the next page is the link whose rel is "next". Each event is the object
// a webhook delivers ({id: "WH-…", create_time, event_type, resource, …}).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PayPalBaseURL is PayPal's live API.
const PayPalBaseURL = "https://api-m.paypal.com"

const paypalPageSize = 300

type paypal struct {
	id, secret string
	base       string
	hc         *http.Client
}

func (p *paypal) token(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/v1/oauth2/token",
		strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(p.id, p.secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := doJSON(p.hc, req, "paypal", &tok); err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("paypal: the token answer has no access_token")
	}
	return tok.AccessToken, nil
}

func (p *paypal) List(ctx context.Context, since time.Time, fn func(Event) error) error {
	tok, err := p.token(ctx)
	if err != nil {
		return err
	}
	q := url.Values{"start_time": {since.UTC().Format(time.RFC3339)}, "page_size": {strconv.Itoa(paypalPageSize)}}
	next := p.base + "/v1/notifications/webhooks-events?" + q.Encode()
	for next != "" {
		req, err := bearerRequest(ctx, http.MethodGet, next, nil, tok, "Accept", "application/json")
		if err != nil {
			return err
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Links  []struct {
				Href string `json:"href"`
				Rel  string `json:"rel"`
			} `json:"links"`
		}
		if err := doJSON(p.hc, req, "paypal", &page); err != nil {
			return err
		}
		if err := each("paypal", page.Events, "id", "create_time", nil, fn); err != nil {
			return err
		}
		next = ""
		for _, l := range page.Links {
			if l.Rel == "next" && l.Href != "" {
				if next, err = sameOrigin(p.base, l.Href); err != nil {
					return err
				}
			}
		}
		if len(page.Events) == 0 {
			next = "" // a next link after an empty page would not end
		}
	}
	return nil
}

// sameOrigin resolves a pagination link against base and refuses one that
// leaves base's host: the token is sent with it.
func sameOrigin(base, href string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u, err := b.Parse(href)
	if err != nil {
		return "", fmt.Errorf("a next link that is not a URL: %q", href)
	}
	if u.Scheme != b.Scheme || u.Host != b.Host {
		return "", fmt.Errorf("a next link to another host: %q", href)
	}
	return u.String(), nil
}

// bearerRequest is a request to a processor's API with its bearer token
// and the header fields in header, names and values in turn.
func bearerRequest(ctx context.Context, method, target string, body io.Reader, token string, header ...string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req, nil
}

// doJSON sends req and decodes a 2xx answer into out; any other answer is
// a StatusError.
func doJSON(hc *http.Client, req *http.Request, processor string, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", processor, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return statusError(processor, resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: decode the answer: %w", processor, err)
	}
	return nil
}
