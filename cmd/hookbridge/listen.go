package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hookbridge/hookbridge/webhook"
)

const listenSynopsis = `Receive an application's webhooks on this machine, while developing a
receiver: listen registers a temporary endpoint of the application (--app) on
the server at --url, prints its signing secret, and then prints every
delivery as it arrives, with the result of checking its signature. With
--forward-to it also passes each delivery on, headers and body untouched, to
the receiver being developed, and answers the server with that receiver's
answer. On Ctrl-C the endpoint is deleted (unless --keep).

The server must be able to reach the listening address: on one machine, start
it with --allow-private 127.0.0.1/32; otherwise give --endpoint-url, e.g. a
tunnel's public URL that leads to --listen.`

// listenConfig is what `hookbridge listen` can be told.
type listenConfig struct {
	api         apiClient
	app         string
	events      string
	listen      string
	endpointURL string
	forwardTo   string
	status      int
	keep        bool
	json        bool
}

// maxListenBody bounds a delivery listen reads: far above any payload the
// server accepts.
const maxListenBody = 16 << 20

func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c listenConfig
	fs := newFlagSet("listen", listenSynopsis, stderr)
	c.api.register(fs, "the admin key, or the application's own key (the token of app-portal-access)")
	fs.String(&c.app, "app", "", "the application (id or uid) whose webhooks to receive")
	fs.String(&c.events, "events", "", "comma-separated event types to receive (default: all)")
	fs.String(&c.listen, "listen", "127.0.0.1:0", "address to receive on (port 0: any free port)")
	fs.String(&c.endpointURL, "endpoint-url", "", "URL the server sends to (default: http:// and the --listen address)")
	fs.String(&c.forwardTo, "forward-to", "", "also pass each delivery on to this URL and answer with its answer")
	fs.Int(&c.status, "status", http.StatusOK, "without --forward-to: the status to answer verified deliveries with (e.g. 500 to watch the retries)")
	fs.Bool(&c.keep, "keep", false, "keep the endpoint when listen stops")
	fs.Bool(&c.json, "json", false, "print each delivery as one JSON object per line")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	return c.run(ctx, stdout, stderr)
}

func (c *listenConfig) check() error {
	if err := c.api.check(); err != nil {
		return err
	}
	if c.app == "" {
		return usageError("--app is required: the application whose webhooks to receive")
	}
	if c.status < 200 || c.status > 599 {
		return usageError("--status must be an HTTP status from 200 to 599")
	}
	for _, f := range []struct{ name, value string }{{"--endpoint-url", c.endpointURL}, {"--forward-to", c.forwardTo}} {
		if f.value == "" {
			continue
		}
		if u, err := url.Parse(f.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("%s %q: want an http(s) URL", f.name, f.value)
		}
	}
	return nil
}

// listenEndpoint is what listen needs of the endpoint it creates.
type listenEndpoint struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

func (c *listenConfig) run(ctx context.Context, stdout, stderr io.Writer) error {
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	target := c.endpointURL
	if target == "" {
		target = "http://" + ln.Addr().String() + "/"
	}

	ep, secret, err := c.createEndpoint(ctx, target)
	if err != nil {
		return err
	}
	if !c.keep {
		defer func() {
			// The run's context is over by now; the deletion gets its own.
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			path := "/api/v1/app/" + url.PathEscape(c.app) + "/endpoint/" + ep.ID
			if err := c.api.do(dctx, http.MethodDelete, path, nil, nil); err != nil {
				fmt.Fprintf(stderr, "hookbridge listen: delete endpoint %s: %v\n", ep.ID, err)
				return
			}
			fmt.Fprintf(stderr, "Deleted endpoint %s.\n", ep.ID)
		}()
	}
	verifier, err := webhook.NewVerifier(secret)
	if err != nil {
		return fmt.Errorf("the endpoint's secret: %w", err)
	}

	events := "all event types"
	if c.events != "" {
		events = c.events
	}
	fmt.Fprintf(stderr, "Receiving %s of application %s on %s as endpoint %s.\n", events, c.app, ep.URL, ep.ID)
	fmt.Fprintf(stderr, "Signing secret: %s\n", secret)
	if c.forwardTo != "" {
		fmt.Fprintf(stderr, "Forwarding to %s.\n", c.forwardTo)
	}
	fmt.Fprintln(stderr, "Press Ctrl-C to stop.")

	h := &listenHandler{cfg: c, verifier: verifier, out: stdout, client: &http.Client{
		Timeout: 30 * time.Second,
		// The receiver's redirect is its answer, passed back as it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("receive: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stop receiving: %w", err)
	}
	<-served
	return nil
}

// createEndpoint registers the temporary endpoint and reads its secret.
func (c *listenConfig) createEndpoint(ctx context.Context, target string) (listenEndpoint, string, error) {
	host, _ := os.Hostname()
	in := map[string]any{
		"url":         target,
		"description": fmt.Sprintf("hookbridge listen on %s (pid %d)", host, os.Getpid()),
	}
	if c.events != "" {
		var types []string
		for t := range strings.SplitSeq(c.events, ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
		in["filterTypes"] = types
	}
	base := "/api/v1/app/" + url.PathEscape(c.app) + "/endpoint"
	var ep listenEndpoint
	if err := c.api.do(ctx, http.MethodPost, base, in, &ep); err != nil {
		if strings.Contains(err.Error(), "loopback") || strings.Contains(err.Error(), "private") {
			err = fmt.Errorf("%w (start the server with --allow-private 127.0.0.1/32, or give --endpoint-url an address it may reach)", err)
		}
		return ep, "", fmt.Errorf("create the endpoint: %w", err)
	}
	var s struct {
		Key string `json:"key"`
	}
	if err := c.api.do(ctx, http.MethodGet, base+"/"+ep.ID+"/secret", nil, &s); err != nil {
		// Without its secret nothing it receives can be checked: remove it.
		_ = c.api.do(context.WithoutCancel(ctx), http.MethodDelete, base+"/"+ep.ID, nil, nil)
		return ep, "", fmt.Errorf("read the endpoint's secret: %w", err)
	}
	return ep, s.Key, nil
}

// listenHandler checks, prints and answers (or forwards) each delivery.
type listenHandler struct {
	cfg      *listenConfig
	verifier *webhook.Verifier
	client   *http.Client

	mu  sync.Mutex // serialises output lines
	out io.Writer
}

// listenRecord is one delivery as --json prints it.
type listenRecord struct {
	ReceivedAt    time.Time       `json:"received_at"`
	WebhookID     string          `json:"webhook_id"`
	Timestamp     string          `json:"webhook_timestamp"`
	Verified      bool            `json:"verified"`
	Error         string          `json:"error,omitempty"`
	Status        int             `json:"status"` // what listen answered the server
	ForwardStatus int             `json:"forward_status,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	Body          string          `json:"body,omitempty"` // when it is not JSON
}

func (h *listenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := listenRecord{ReceivedAt: time.Now().UTC(), WebhookID: r.Header.Get("webhook-id"), Timestamp: r.Header.Get("webhook-timestamp")}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxListenBody+1))
	switch {
	case err != nil:
		rec.Error = "reading the body: " + err.Error()
	case len(body) > maxListenBody:
		rec.Error = fmt.Sprintf("body over %d bytes", maxListenBody)
	case r.Method != http.MethodPost:
		rec.Error = "method " + r.Method + ", not POST"
	default:
		if err := h.verifier.Verify(body, r.Header); err != nil {
			rec.Error = "signature: " + err.Error()
		} else {
			rec.Verified = true
		}
	}
	if json.Valid(body) {
		rec.Payload = body
	} else if len(body) > 0 {
		rec.Body = string(body)
	}

	var answer []byte
	switch {
	case !rec.Verified:
		rec.Status = http.StatusUnauthorized
		answer = []byte("hookbridge listen: " + rec.Error + "\n")
	case h.cfg.forwardTo != "":
		rec.Status, answer = h.forward(r, body, &rec)
	default:
		rec.Status = h.cfg.status
	}
	h.print(&rec) // first: what the server is told is on screen before it hears it
	w.WriteHeader(rec.Status)
	_, _ = w.Write(answer)
}

// forward passes the delivery on untouched and returns the status and body
// to answer the server with: the receiver's, or 502 if it gave none.
func (h *listenHandler) forward(r *http.Request, body []byte, rec *listenRecord) (int, []byte) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, h.cfg.forwardTo, bytes.NewReader(body))
	if err != nil {
		rec.Error = "forward: " + err.Error()
		return http.StatusBadGateway, nil
	}
	for k, v := range r.Header {
		switch k {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length":
		default:
			req.Header[k] = v
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		rec.Error = "forward: " + err.Error()
		return http.StatusBadGateway, nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	rec.ForwardStatus = resp.StatusCode
	return resp.StatusCode, answer
}

func (h *listenHandler) print(rec *listenRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg.json {
		_ = json.NewEncoder(h.out).Encode(rec)
		return
	}
	check := "verified"
	if !rec.Verified {
		check = "REFUSED (" + rec.Error + ")"
	} else if rec.Error != "" {
		check += ", " + rec.Error
	}
	content := string(rec.Payload)
	if content == "" {
		content = rec.Body
	}
	if len(content) > 400 {
		content = strings.ToValidUTF8(content[:400], "") + "…"
	}
	id := rec.WebhookID
	if id == "" {
		id = "(no webhook-id)"
	}
	fmt.Fprintf(h.out, "%s  %s  %s  → %d  %s\n", rec.ReceivedAt.Local().Format(time.TimeOnly), id, check, rec.Status, content)
}
