package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookbridge/hookbridge/inbound"
)

const sourceSynopsis = `Manage the inbound sources of a running server: one URL per payment
processor, verified with its scheme and rolled out off → shadow → on.

  hookbridge source create --scheme NAME --secret SECRET [--app APP] [--merchant-app MERCHANT=APP]...
                           [--merchant-field PATH] [--state off|shadow|on] [--stale-policy forward-flagged|hold]
                           [--processor-key KEY | --processor-client-id ID --processor-client-secret SECRET]
                           [--processor-base-url URL] [--reconcile-every DURATION] [--name NAME] [...]
  hookbridge source list
  hookbridge source get ID
  hookbridge source set-state ID off|shadow|on [--merchants A,B] [--percent N] [--all-merchants]
  hookbridge source events ID [--held]
  hookbridge source release ID EVENT_ID
  hookbridge source backfill ID --since 24h | --status

Every subcommand takes --url (the server, default http://` + defaultAddr + `;
env HOOKBRIDGE_URL) and --api-key (the admin key, or an admin or inbound API key;
env HOOKBRIDGE_API_KEY). Flags may come before or after the arguments (ID,
state); -- ends the flags. create prints the source, with the URL to give the
processor; its secret is shown masked from then on. events lists what the
source received, newest first (--held: only what its stale policy holds);
release forwards a held event.

backfill fetches the processor's events of the last --since (at most 31
days) from its own API, with the source's read-only API credentials
(--processor-key for Stripe, Square and GoCardless; --processor-client-id and
--processor-client-secret for PayPal), and receives those the webhooks did
not bring, marked "via": "backfill"; it prints the run and exits 1 if the
processor failed. --status prints what the source's backfill has done.
--reconcile-every makes the server do the same by itself (at least 1m).`

// sourceKeyUsage says which keys the source subcommands take.
const sourceKeyUsage = "the server-wide admin key, or an API key of scope admin or inbound"

// runSource dispatches to a source subcommand.
func runSource(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSub(ctx, sourceSynopsis, []command{
		{name: "create", run: runSourceCreate},
		{name: "list", run: runSourceList},
		{name: "get", run: runSourceGet},
		{name: "set-state", run: runSourceSetState},
		{name: "events", run: runSourceEvents},
		{name: "release", run: runSourceRelease},
		{name: "backfill", run: runSourceBackfill},
	}, args, stdout, stderr)
}

// apiClient talks to a running server's management API.
type apiClient struct {
	base string
	key  string
	http *http.Client
}

// register adds --url and --api-key to fs; keyUsage says which keys do.
func (c *apiClient) register(fs *flagSet, keyUsage string) {
	fs.String(&c.base, "url", "http://"+defaultAddr, "the server's address")
	fs.Secret(&c.key, "api-key", keyUsage)
}

func (c *apiClient) check() error {
	if c.key == "" {
		return usageError("--api-key (or HOOKBRIDGE_API_KEY) is required")
	}
	u, err := url.Parse(c.base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError("--url %q: want http(s)://host[:port]", c.base)
	}
	c.base = strings.TrimRight(c.base, "/")
	c.http = &http.Client{Timeout: 30 * time.Second}
	return nil
}

// do sends a JSON request and decodes a 2xx answer into out; any other
// answer is an error quoting the server's detail.
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, apiErrorText(raw))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// apiErrorText renders an API error body: the detail, or each invalid
// field of a 422.
func apiErrorText(raw []byte) string {
	var plain struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(raw, &plain) == nil && plain.Detail != "" {
		return plain.Detail
	}
	var invalid struct {
		Detail []struct {
			Loc []string `json:"loc"`
			Msg string   `json:"msg"`
		} `json:"detail"`
	}
	if json.Unmarshal(raw, &invalid) == nil && len(invalid.Detail) > 0 {
		parts := make([]string, len(invalid.Detail))
		for i, d := range invalid.Detail {
			parts[i] = strings.Join(d.Loc, ".") + ": " + d.Msg
		}
		return strings.Join(parts, "; ")
	}
	return strings.TrimSpace(string(raw))
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// mappingFlag collects repeated KEY=VALUE flags.
type mappingFlag map[string]string

func (m mappingFlag) String() string { return "" }

func (m mappingFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want MERCHANT=APP, got %q", s)
	}
	m[k] = v
	return nil
}

func runSourceCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c                                  apiClient
		name, scheme, secret, publicKey    string
		keyID, certFile, app, field, state string
		stalePolicy                        string
		tolerance                          int
		reconcile                          time.Duration
		apiCreds                           map[string]string
		hmacOpts                           inbound.HMACOptions
		merchants                          = mappingFlag{}
	)
	fs := newFlagSet("source create", "Create an inbound source and print it, with the URL to give the processor.", stderr)
	c.register(fs, sourceKeyUsage)
	fs.String(&name, "name", "", "a name for people")
	fs.String(&scheme, "scheme", "", "verification scheme, one of: "+strings.Join(inbound.Names(), ", "))
	fs.String(&secret, "secret", "", "the signing secret or key, exactly as the processor's dashboard shows it")
	fs.String(&publicKey, "public-key", "", "Braintree's public key, or a Standard Webhooks whpk_ public key")
	fs.String(&keyID, "key-id", "", "PayPal's webhook ID, or the Worldpay keyId of the secret")
	fs.String(&certFile, "cert-file", "", "PayPal's certificate as a PEM file, used instead of fetching it")
	fs.String(&app, "app", "", "the default application (id or uid): it gets the events of unmapped merchants, and of notifications that name no merchant (a single account)")
	fs.Var(merchants, "merchant-app", "MERCHANT=APP: route that merchant's (or account's) events to that application; repeat for more")
	fs.String(&field, "merchant-field", "", "dotted path to the merchant in the notification (default: the processor's usual field)")
	fs.String(&state, "state", "off", "initial rollout: off, shadow or on")
	fs.String(&stalePolicy, "stale-policy", "forward-flagged", `what becomes of a notification that would move its payment backwards: forward-flagged (delivered with "stale": true) or hold (kept until released)`)
	fs.Int(&tolerance, "tolerance", 0, "how far a signed timestamp may lie from the clock, in seconds (default 300)")
	apiCreds = map[string]string{}
	var procKey, procID, procSecret, procURL string
	fs.Secret(&procKey, "processor-key", "backfill: a read-only key for the processor's API (Stripe rk_…, Square or GoCardless access token)")
	fs.String(&procID, "processor-client-id", "", "backfill: PayPal's REST app client id")
	fs.Secret(&procSecret, "processor-client-secret", "backfill: PayPal's REST app secret")
	fs.String(&procURL, "processor-base-url", "", "backfill: the processor's API address, e.g. a sandbox (default: its live API)")
	fs.Duration(&reconcile, "reconcile-every", 0, "backfill: fetch the events the webhooks did not bring this often (e.g. 15m; default never)")
	hmacFlags(fs, &hmacOpts, "", "")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if scheme == "" {
		return usageError("--scheme is required, one of: %s", strings.Join(inbound.Names(), ", "))
	}
	creds := map[string]any{"secret": secret, "publicKey": publicKey, "keyId": keyID}
	if certFile != "" {
		pemBytes, err := os.ReadFile(certFile)
		if err != nil {
			return usageError("--cert-file: %v", err)
		}
		creds["certPem"] = string(pemBytes)
	}
	if hmacOpts != (inbound.HMACOptions{}) {
		creds["hmac"] = map[string]string{"header": hmacOpts.Header, "algorithm": hmacOpts.Algorithm, "encoding": hmacOpts.Encoding,
			"prefix": hmacOpts.Prefix, "timestampHeader": hmacOpts.TimestampHeader}
	}
	body := map[string]any{"name": name, "scheme": scheme, "credentials": creds, "rollout": map[string]any{"state": state},
		"stalePolicy": stalePolicy}
	if app != "" {
		body["application"] = app
	}
	if len(merchants) > 0 {
		body["merchantApplications"] = merchants
	}
	if field != "" {
		body["merchantField"] = field
	}
	if tolerance != 0 {
		body["toleranceSeconds"] = tolerance
	}
	for k, v := range map[string]string{"key": procKey, "clientId": procID, "clientSecret": procSecret, "baseUrl": procURL} {
		if v != "" {
			apiCreds[k] = v
		}
	}
	if len(apiCreds) > 0 {
		body["apiCredentials"] = apiCreds
	}
	if reconcile != 0 {
		body["reconcileEverySeconds"] = int(reconcile / time.Second)
	}
	var out map[string]any
	if err := c.do(ctx, http.MethodPost, "/api/v1/source", body, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func runSourceList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("source list", "List the inbound sources.", stderr)
	c.register(fs, sourceKeyUsage)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCHEME\tROLLOUT\tNAME\tURL")
	iterator := ""
	for {
		var page struct {
			Data []struct {
				ID, Name, Scheme, URL string
				Rollout               struct {
					State     string   `json:"state"`
					Merchants []string `json:"merchants"`
					Percent   *int     `json:"percent"`
				} `json:"rollout"`
			} `json:"data"`
			Iterator *string `json:"iterator"`
			Done     bool    `json:"done"`
		}
		path := "/api/v1/source?limit=250"
		if iterator != "" {
			path += "&iterator=" + url.QueryEscape(iterator)
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		for _, s := range page.Data {
			rollout := s.Rollout.State
			if len(s.Rollout.Merchants) > 0 {
				rollout += " merchants=" + strings.Join(s.Rollout.Merchants, ",")
			}
			if s.Rollout.Percent != nil {
				rollout += " percent=" + strconv.Itoa(*s.Rollout.Percent)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Scheme, rollout, s.Name, s.URL)
		}
		if page.Done || page.Iterator == nil {
			break
		}
		iterator = *page.Iterator
	}
	return tw.Flush()
}

func runSourceGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	var id string
	fs := newFlagSet("source get", "Print an inbound source.", stderr)
	fs.operands = "ID"
	c.register(fs, sourceKeyUsage)
	if err := fs.parse(args, &id); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if id == "" {
		return usageError("the source id is required: hookbridge source get ID")
	}
	var out map[string]any
	if err := c.do(ctx, http.MethodGet, "/api/v1/source/"+url.PathEscape(id), nil, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func runSourceSetState(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c                    apiClient
		id, state, merchants string
		percent              int
		allMerchants         bool
	)
	fs := newFlagSet("source set-state", "Change a source's rollout (audited).", stderr)
	fs.operands = "ID off|shadow|on"
	c.register(fs, sourceKeyUsage)
	fs.String(&merchants, "merchants", "", "with on: only these merchants, comma-separated")
	fs.Int(&percent, "percent", -1, "with on: only merchants whose bucket (0-99) is below this; a notification that names no merchant (a single account) goes by its payment's bucket")
	fs.Bool(&allMerchants, "all-merchants", false, "clear the merchant list and the percentage")
	if err := fs.parse(args, &id, &state); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if id == "" || state == "" {
		return usageError("hookbridge source set-state ID off|shadow|on")
	}
	patch := map[string]any{"state": state}
	if allMerchants {
		patch["merchants"], patch["percent"] = nil, nil
	}
	if merchants != "" {
		patch["merchants"] = strings.Split(merchants, ",")
	}
	if percent >= 0 {
		patch["percent"] = percent
	}
	var out map[string]any
	if err := c.do(ctx, http.MethodPatch, "/api/v1/source/"+url.PathEscape(id)+"/rollout", patch, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func runSourceEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c    apiClient
		id   string
		held bool
	)
	fs := newFlagSet("source events", "List what a source received, newest first, and what became of it.", stderr)
	fs.operands = "ID"
	c.register(fs, sourceKeyUsage)
	fs.Bool(&held, "held", false, "only the events the source's stale policy holds, not released yet")
	if err := fs.parse(args, &id); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if id == "" {
		return usageError("the source id is required: hookbridge source events ID [--held]")
	}
	var page struct {
		Data []struct {
			ID, EventID string
			Type        *string `json:"type"`
			Forwarded   bool    `json:"forwarded"`
			Stale       bool    `json:"stale"`
			Held        bool    `json:"held"`
			Note        string  `json:"note"`
			Payments    []struct {
				PaymentID string  `json:"paymentId"`
				Sequence  int64   `json:"sequence"`
				Status    *string `json:"status"`
			} `json:"payments"`
		} `json:"data"`
	}
	path := "/api/v1/source/" + url.PathEscape(id) + "/events?with_content=false&limit=100&held=" + strconv.FormatBool(held)
	if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEVENT\tTYPE\tPAYMENT\tOUTCOME\tNOTE")
	for _, e := range page.Data {
		outcome := "not forwarded"
		switch {
		case e.Held:
			outcome = "held"
		case e.Forwarded && e.Stale:
			outcome = "forwarded, stale"
		case e.Forwarded:
			outcome = "forwarded"
		}
		payment := ""
		for _, p := range e.Payments {
			status := "-"
			if p.Status != nil {
				status = *p.Status
			}
			payment += fmt.Sprintf("%s #%d %s ", p.PaymentID, p.Sequence, status)
		}
		typ := ""
		if e.Type != nil {
			typ = *e.Type
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.EventID, typ, strings.TrimSpace(payment), outcome, e.Note)
	}
	return tw.Flush()
}

func runSourceRelease(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c         apiClient
		id, event string
	)
	fs := newFlagSet("source release", "Forward an event the source's stale policy held (flagged stale).", stderr)
	fs.operands = "ID EVENT_ID"
	c.register(fs, sourceKeyUsage)
	if err := fs.parse(args, &id, &event); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if id == "" || event == "" {
		return usageError("hookbridge source release ID EVENT_ID (the event's id, inb_…, as source events lists it)")
	}
	var out map[string]any
	if err := c.do(ctx, http.MethodPost, "/api/v1/source/"+url.PathEscape(id)+"/events/"+url.PathEscape(event)+"/release", nil, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

// backfillTimeout bounds how long `source backfill` waits for a run;
// giving up stops the run, which loses nothing (the high-water mark stays).
const backfillTimeout = 15 * time.Minute

// runSourceBackfill runs a backfill of the source now, or prints its
// state with --status.
func runSourceBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		c      apiClient
		id     string
		since  time.Duration
		status bool
	)
	fs := newFlagSet("source backfill", "Fetch the processor's events the webhooks did not bring, from its own API.", stderr)
	fs.operands = "ID"
	c.register(fs, sourceKeyUsage)
	fs.Duration(&since, "since", 0, "how far back to fetch, e.g. 24h (at most 744h, 31 days)")
	fs.Bool(&status, "status", false, "print what the source's backfill has done (last run, last error, counts) and run nothing")
	if err := fs.parse(args, &id); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	// A run waits out the processor's rate limits and pages through up to
	// a month of events: more than other calls take.
	c.http.Timeout = backfillTimeout
	path := "/api/v1/source/" + url.PathEscape(id) + "/backfill"
	switch {
	case id == "":
		return usageError("hookbridge source backfill ID --since 24h")
	case status:
		var out map[string]any
		if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
			return err
		}
		return printJSON(stdout, out)
	case since <= 0:
		return usageError("--since is required: how far back to fetch, e.g. 24h")
	}
	// The client's clock names the window; the server refuses one in its
	// future or older than the processors keep.
	var out struct {
		Error *string `json:"error"`
	}
	var raw json.RawMessage
	body := map[string]string{"since": time.Now().Add(-since).UTC().Format(time.RFC3339)}
	if err := c.do(ctx, http.MethodPost, path, body, &raw); err != nil {
		return err
	}
	if err := printJSON(stdout, raw); err != nil {
		return err
	}
	if json.Unmarshal(raw, &out) == nil && out.Error != nil {
		return fmt.Errorf("backfill of %s failed: %s (the next run starts from the same point)", id, *out.Error)
	}
	return nil
}
