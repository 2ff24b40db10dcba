package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookbridge/hookbridge/dispatch"
	"github.com/hookbridge/hookbridge/webhook"
)

// relayServer is the reference --relay measures Hookbridge against: the
// least a webhook gateway built on net/http can do. It answers the
// message calls of the API at once, before anything is written anywhere,
// and forwards each message from a pool of workers as Hookbridge's
// dispatcher does — signed, over keep-alive connections — but keeps
// nothing: no database, no retries, no attempt log, no authentication. Its
// delivery rate is what the HTTP exchanges alone allow on this machine for
// the producer → gateway → receiver pattern, with everything that makes a
// gateway durable left out.
//
// With a log (--durable-relay), it also writes each accepted message to an
// append-only file and syncs it before answering, and each delivery's end
// after forwarding it, synced in the same groups without the worker
// waiting (see relayLog): the least a durable gateway can do, on the same
// machine and disk.
type relayServer struct {
	srv    *http.Server
	url    string
	target string // the receiver endpoint every message is forwarded to
	client *http.Client
	signer *webhook.Signer

	jobs    chan relayJob
	workers sync.WaitGroup
	seq     atomic.Int64
	log     *relayLog // nil: the relay writes nothing

	errMu sync.Mutex
	err   error // the first failed forward
}

type relayJob struct {
	id      string
	payload []byte
}

// startRelay starts a relay on loopback that forwards to target with
// the given number of workers, durable with a log in logDir if that is not
// empty.
func startRelay(target string, workers int, logDir string) (*relayServer, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	r := &relayServer{
		url:    "http://" + ln.Addr().String(),
		target: target,
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: workers,
			DisableCompression:  true,
		}},
		signer: signer,
		jobs:   make(chan relayJob, 2*workers),
	}
	if logDir != "" {
		if r.log, err = openRelayLog(logDir); err != nil {
			ln.Close()
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/{app}/msg", r.handleMessage)
	mux.HandleFunc("POST /app/{app}/msg/batch", r.handleBatch)
	r.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Labelled like a server under --in-process: a CPU profile of the
	// bench can then tell the relay's goroutines from the client's.
	pprof.Do(context.Background(), pprof.Labels("role", "relay"), func(context.Context) {
		for range workers {
			r.workers.Go(r.forward)
		}
		go r.srv.Serve(ln)
	})
	return r, nil
}

// base and stop make the relay a target of the load client.
func (r *relayServer) base() string { return r.url }

// cpuSoFar: the relay runs in the bench, whose CPU is not the relay's alone.
func (r *relayServer) cpuSoFar() (time.Duration, bool) { return 0, false }

// stop closes the relay once its requests are answered and its workers
// have forwarded what they were given, and returns the first failed
// forward or write of its log.
func (r *relayServer) stop() (serverUsage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), serverStopTimeout)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	close(r.jobs)
	r.workers.Wait()
	r.client.CloseIdleConnections()
	if r.log != nil {
		err = errors.Join(err, r.log.close())
	}
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return serverUsage{}, errors.Join(err, r.err)
}

func (r *relayServer) handleMessage(w http.ResponseWriter, req *http.Request) {
	var in struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil || len(in.Payload) == 0 {
		http.Error(w, "want a message with a payload", http.StatusBadRequest)
		return
	}
	id := r.newID()
	if r.log != nil {
		if err := r.log.append([]byte(id), []byte(" "), in.Payload); err != nil {
			r.fail(err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	r.jobs <- relayJob{id: id, payload: in.Payload}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"id":%q}`, id)
}

func (r *relayServer) handleBatch(w http.ResponseWriter, req *http.Request) {
	var in struct {
		Messages []struct {
			Payload json.RawMessage `json:"payload"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(req.Body).Decode(&in); err != nil || len(in.Messages) == 0 {
		http.Error(w, "want a batch of messages", http.StatusBadRequest)
		return
	}
	ids := make([]string, len(in.Messages))
	for i := range ids {
		ids[i] = r.newID()
	}
	if r.log != nil {
		// One record for the batch, synced before any of it is answered.
		parts := make([][]byte, 0, 4*len(ids))
		for i, m := range in.Messages {
			if i > 0 {
				parts = append(parts, []byte("\n"))
			}
			parts = append(parts, []byte(ids[i]), []byte(" "), m.Payload)
		}
		if err := r.log.append(parts...); err != nil {
			r.fail(err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	var out bytes.Buffer
	out.WriteString(`{"data":[`)
	for i, m := range in.Messages {
		if i > 0 {
			out.WriteByte(',')
		}
		r.jobs <- relayJob{id: ids[i], payload: m.Payload}
		fmt.Fprintf(&out, `{"status":202,"message":{"id":%q}}`, ids[i])
	}
	out.WriteString(`]}`)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out.Bytes())
}

// newID returns the id of a new message. The handlers hand messages to
// the workers (r.jobs), waiting while they are all busy and their queue is
// full.
func (r *relayServer) newID() string { return "relay_" + strconv.FormatInt(r.seq.Add(1), 10) }

// fail keeps the first error of the relay, which stop returns.
func (r *relayServer) fail(err error) {
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
}

// forward is one worker: it sends each job to the target, signed, once.
// With a log, each delivery's end is written there; the worker does not
// wait for its sync (a failed one is the relay's error at stop).
func (r *relayServer) forward() {
	for j := range r.jobs {
		if err := r.send(j); err != nil {
			r.fail(fmt.Errorf("relay: %s: %w", j.id, err))
			continue
		}
		if r.log != nil {
			r.log.add([]byte("done "), []byte(j.id))
		}
	}
}

func (r *relayServer) send(j relayJob) error {
	req, err := http.NewRequest(http.MethodPost, r.target, bytes.NewReader(j.payload))
	if err != nil {
		return err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	r.signer.SetHeaders(req.Header, j.id, time.Now(), j.payload)
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}

// relay measures the relay's delivery rate for n messages, sent the way
// the run sends them (--batch, --concurrency) to one endpoint of a
// receiver of its own, so that its arrivals never mix with the server's.
// durable runs it with a log (--durable-relay), in a new directory under
// the system's temporary directory, where the server's database is made
// too unless --db names one.
func (b *bench) relay(ctx context.Context, n int, pass string, durable bool) (relayResult, error) {
	recv, err := startReceiver(anyLoopbackPort)
	if err != nil {
		return relayResult{}, err
	}
	defer recv.close()
	logDir := ""
	if durable {
		if logDir, err = os.MkdirTemp("", "hookbridge-bench-relay-"); err != nil {
			return relayResult{}, err
		}
		defer os.RemoveAll(logDir)
		pass = "durable " + pass
	}
	rl, err := b.startRelay(ctx, recv.url+"/e/0", logDir)
	if err != nil {
		return relayResult{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			rl.stop()
		}
	}()
	cpu0, cpuKnown := rl.cpuSoFar()
	ing := b.ingest(ctx, recv, fleet{rl}, []application{{id: "relay"}}, n, b.cfg.Rate, "relay "+pass)
	b.wait(ctx, recv, ing, 1, "relay deliver "+pass)
	cpu1, _ := rl.cpuSoFar()
	stopped = true
	if _, err := rl.stop(); err != nil {
		return relayResult{}, err
	}
	var rep Report
	rep.addIngest(ing, 1)
	rep.addDeliveries(recv, ing, 1, true)
	switch {
	case rep.Refused > 0:
		return relayResult{}, fmt.Errorf("relay: %d messages refused: %s", rep.Refused, rep.firstError)
	case rep.Lost > 0 || rep.Duplicates > 0 || rep.Unexpected > 0:
		return relayResult{}, fmt.Errorf("relay: %d lost, %d duplicates, %d unexpected", rep.Lost, rep.Duplicates, rep.Unexpected)
	}
	res := relayResult{perS: rep.DeliveredPerS, deliveries: rep.Deliveries}
	if cpuKnown && cpu1 >= cpu0 {
		res.cpu, res.cpuKnown = cpu1-cpu0, true
	}
	return res, nil
}

// startRelay starts the relay forwarding to target: a child process
// (`hookbridge bench --serve-relay` of the --server-binary, else of this
// executable), so that its CPU is its own as the server's is, or with
// --in-process inside this process, where a CPU profile of the bench
// covers it.
func (b *bench) startRelay(ctx context.Context, to, logDir string) (target, error) {
	workers := max(b.cfg.Workers, dispatch.DefaultWorkers)
	if b.cfg.InProcess {
		return startRelay(to, workers, logDir)
	}
	bin := b.cfg.ServerBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("relay: %w", err)
		}
	}
	args := []string{"bench", "--serve-relay", to, "--workers", strconv.Itoa(workers)}
	if logDir != "" {
		args = append(args, "--relay-log", logDir)
	}
	c, err := startChild(ctx, bin, args, "")
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return relayChild{c}, nil
}

// relayChild is the relay as a child process; its API has no /api/v1 prefix.
type relayChild struct{ *childServer }

func (c relayChild) base() string { return "http://" + c.addr }

// ServeRelay runs the relay alone, forwarding to target (a loopback URL)
// with the given number of workers, until ctx ends: what `hookbridge bench
// --serve-relay` runs as --relay's child process, and with a log in logDir
// (not empty) as --durable-relay's. It announces its address on stderr as a
// server does (a JSON log line with msg "hookbridge started" and addr) and
// returns the first failed forward or log write.
func ServeRelay(ctx context.Context, target string, workers int, logDir string, stderr io.Writer) error {
	if err := CheckRelayTarget(target); err != nil {
		return err
	}
	if workers <= 0 {
		workers = dispatch.DefaultWorkers
	}
	rl, err := startRelay(target, workers, logDir)
	if err != nil {
		return err
	}
	addr := strings.TrimPrefix(rl.url, "http://")
	if err := json.NewEncoder(stderr).Encode(map[string]string{"msg": "hookbridge started", "addr": addr}); err != nil {
		_, _ = rl.stop()
		return err
	}
	<-ctx.Done()
	_, err = rl.stop()
	return err
}

// CheckRelayTarget refuses a --serve-relay target that is not an http://
// URL on a loopback address: the relay forwards to the bench's receiver.
func CheckRelayTarget(target string) error {
	if u, err := url.Parse(target); err != nil || u.Scheme != "http" || !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("--serve-relay: want an http:// URL on a loopback address, got %q", target)
	}
	return nil
}

// relayResult is what a relay run measured: its delivery rate and, where
// the relay ran as a process of its own, the CPU it spent from the first
// message to the last arrival.
type relayResult struct {
	perS       float64
	deliveries int64
	cpu        time.Duration
	cpuKnown   bool
}
