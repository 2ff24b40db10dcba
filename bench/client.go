package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// loadClient is the producer side: keep-alive HTTP on loopback only, with
// a connection for every request in flight.
type loadClient struct {
	http   *http.Client
	apiKey string // set once the server under test is known
	// idempotencyPrefix, if set, starts the Idempotency-Key of every
	// message request (--idempotency-keys); the first message's index ends it.
	idempotencyPrefix string
}

func newLoadClient(concurrency int) *loadClient {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        4 * (concurrency + 16),
		MaxIdleConnsPerHost: concurrency + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &loadClient{http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

func (c *loadClient) close() { c.http.CloseIdleConnections() }

// loopbackOnly refuses to dial anything but a loopback address: the bench
// never sends traffic off this machine.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench: refusing to dial %s: the bench uses loopback only", address)
	}
	return nil
}

// run runs n copies of fn concurrently, each with its own clientWorker, and
// waits for them. The goroutines carry the pprof label role=<role>.
func (c *loadClient) run(ctx context.Context, n int, role string, fn func(w *clientWorker)) {
	var wg sync.WaitGroup
	pprof.Do(ctx, pprof.Labels("role", role), func(context.Context) {
		for range n {
			wg.Go(func() { fn(&clientWorker{c: c}) })
		}
	})
	wg.Wait()
}

// clientWorker is one load goroutine's scratch space.
type clientWorker struct {
	c    *loadClient
	body []byte
	resp bytes.Buffer
}

// post sends body and returns the response body of a 2xx answer, which
// stays valid until the worker's next request.
func (w *clientWorker) post(ctx context.Context, url string, body []byte, webhookID string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	if webhookID != "" {
		req.Header["Webhook-Id"] = []string{webhookID}
	}
	return w.do(req)
}

func (w *clientWorker) do(req *http.Request) ([]byte, error) {
	resp, err := w.c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	w.resp.Reset()
	if _, err := w.resp.ReadFrom(resp.Body); err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(w.resp.Bytes()))
	}
	return w.resp.Bytes(), nil
}

// call makes one authenticated JSON API call.
func (w *clientWorker) call(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.do(req)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, req.URL.Path, err)
		}
	}
	return nil
}

// send posts messages [first, first+count) to the application, as one
// request to the batch route with batch set, else one message alone, and
// returns the ids the server accepted them under ("" for one it refused).
func (w *clientWorker) send(ctx context.Context, base, appID string, first, count int, batch bool) ([]string, error) {
	w.body = w.body[:0]
	url := base + "/app/" + appID + "/msg?with_content=false"
	if batch {
		url = base + "/app/" + appID + "/msg/batch?with_content=false"
		w.body = append(w.body, `{"messages":[`...)
		for i := range count {
			if i > 0 {
				w.body = append(w.body, ',')
			}
			w.body = appendMessage(w.body, first+i)
		}
		w.body = append(w.body, "]}"...)
	} else {
		w.body = appendMessage(w.body, first)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(w.body))
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["Authorization"] = []string{"Bearer " + w.c.apiKey}
	if w.c.idempotencyPrefix != "" {
		req.Header["Idempotency-Key"] = []string{w.c.idempotencyPrefix + strconv.Itoa(first)}
	}
	resp, err := w.do(req)
	if err != nil {
		return nil, err
	}
	if !batch {
		var out struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(resp, &out); err != nil || out.ID == "" {
			return nil, fmt.Errorf("POST %s: no message id in the answer %q", req.URL.Path, resp)
		}
		return []string{out.ID}, nil
	}
	var out struct {
		Data []struct {
			Status  int `json:"status"`
			Message *struct {
				ID string `json:"id"`
			} `json:"message"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp, &out); err != nil || len(out.Data) != count {
		return nil, fmt.Errorf("POST %s: want %d results in the answer, got %q", req.URL.Path, count, resp)
	}
	ids := make([]string, count)
	for i, d := range out.Data {
		if d.Message != nil {
			ids[i] = d.Message.ID
		}
	}
	return ids, nil
}

// payloadTail is the rest of every bench message after its sequence
// number: a thin payment event, as Hookbridge's payloads are meant to be.
const payloadTail = `","orderId":"ord_51aa","status":"captured","amount":4250,"currency":"EUR",` +
	`"processor":"adyen","processorRef":"8535516988037431","capturedAt":"2025-06-01T12:00:00Z"}}`

// appendMessage appends the MessageIn of message seq.
func appendMessage(b []byte, seq int) []byte {
	b = append(b, `{"eventType":"`+eventType+`","payload":{"paymentId":"pay_`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	return append(b, payloadTail...)
}
