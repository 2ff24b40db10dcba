package bench

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is the Hookbridge server under test.
type target interface {
	base() string // the API root: http://host:port/api/v1
	// stop stops a server the bench started and reports what it used.
	stop() (serverUsage, error)
	// cpuSoFar is the CPU time the running server has used so far, where
	// known.
	cpuSoFar() (time.Duration, bool)
}

// serverUsage is what a server used, where known.
type serverUsage struct {
	peakRSS  int64
	rssKnown bool
	cpu      time.Duration
	cpuKnown bool
}

// then combines the usage of a server with that of one that ran after it:
// the larger peak, the summed CPU.
func (u serverUsage) then(o serverUsage) serverUsage {
	return serverUsage{
		peakRSS: max(u.peakRSS, o.peakRSS), rssKnown: u.rssKnown || o.rssKnown,
		cpu: u.cpu + o.cpu, cpuKnown: u.cpuKnown || o.cpuKnown,
	}
}

// and combines the usage of servers that ran side by side: both summed.
func (u serverUsage) and(o serverUsage) serverUsage {
	return serverUsage{
		peakRSS: u.peakRSS + o.peakRSS, rssKnown: u.rssKnown || o.rssKnown,
		cpu: u.cpu + o.cpu, cpuKnown: u.cpuKnown || o.cpuKnown,
	}
}

// fleet is the servers under test: one, or --instances on one PostgreSQL
// database.
type fleet []target

// base returns the API root of the server that takes request j.
func (f fleet) base(j int) string { return f[j%len(f)].base() }

// addrs returns the host:port of each server.
func (f fleet) addrs() []string {
	out := make([]string, len(f))
	for i, t := range f {
		u, err := url.Parse(t.base())
		if err == nil {
			out[i] = u.Host
		}
	}
	return out
}

// cpuSoFar sums the CPU time the servers have used so far, if known for
// every one.
func (f fleet) cpuSoFar() (time.Duration, bool) {
	var total time.Duration
	for _, t := range f {
		cpu, ok := t.cpuSoFar()
		if !ok {
			return 0, false
		}
		total += cpu
	}
	return total, true
}

// stop stops every server, at once, and sums what they used.
func (f fleet) stop() (serverUsage, error) {
	usages, errs := make([]serverUsage, len(f)), make([]error, len(f))
	var wg sync.WaitGroup
	for i, t := range f {
		wg.Go(func() { usages[i], errs[i] = t.stop() })
	}
	wg.Wait()
	var total serverUsage
	for _, u := range usages {
		total = total.and(u)
	}
	return total, errors.Join(errs...)
}

// launchAll starts cfg.Instances servers (or returns the one at --url).
func (b *bench) launchAll(ctx context.Context, requestTimeout time.Duration) (fleet, error) {
	var f fleet
	for i := range b.cfg.Instances {
		t, err := b.launch(ctx, requestTimeout, i)
		if err != nil {
			f.stop()
			return nil, err
		}
		f = append(f, t)
	}
	return f, nil
}

// ServeFunc starts a Hookbridge server inside this process, with the
// settings of s and the rest left at their defaults, as `hookbridge serve`
// would; the server logs to logger. It returns the address the server
// listens on and a function that shuts it down gracefully.
type ServeFunc func(ctx context.Context, s ServeSettings, logger *slog.Logger) (addr string, shutdown func() error, err error)

// ServeSettings are the settings of a server the bench starts: the flags
// of `hookbridge serve` that it sets.
type ServeSettings struct {
	Addr           string        // --addr: --addr of the bench, or a free port on loopback
	DB             string        // --db
	APIKey         string        // --api-key
	SecretKey      string        // --secret-key, "" for none; a child gets it in its environment
	AllowPrivate   string        // --allow-private: the loopback IP the receiver listens on
	RequestTimeout time.Duration // --request-timeout; 0 keeps the server's default
	Workers        int           // --workers; 0 keeps the server's default
}

// args is the `hookbridge serve` command line of s, less the secret key.
func (s ServeSettings) args() []string {
	args := []string{"serve", "--addr", s.Addr, "--db", s.DB, "--api-key", s.APIKey,
		"--allow-private", s.AllowPrivate, "--log-format", "json", "--log-level", "info"}
	if s.RequestTimeout > 0 {
		args = append(args, "--request-timeout", s.RequestTimeout.String())
	}
	if s.Workers > 0 {
		args = append(args, "--workers", strconv.Itoa(s.Workers))
	}
	return args
}

// launch starts the i-th server under test (or returns the one at --url),
// on --addr with its port increased by i. A requestTimeout of 0 keeps the
// server's default.
func (b *bench) launch(ctx context.Context, requestTimeout time.Duration, i int) (target, error) {
	cfg := b.cfg
	if cfg.URL != "" {
		return remoteServer(strings.TrimSuffix(cfg.URL, "/") + "/api/v1"), nil
	}
	s := ServeSettings{
		Addr:           addrPlus(cmp.Or(cfg.Addr, anyLoopbackPort), i),
		DB:             b.db,
		APIKey:         b.apiKey,
		SecretKey:      b.secret,
		AllowPrivate:   b.allowPrivate(),
		RequestTimeout: requestTimeout,
		Workers:        cfg.Workers,
	}
	if cfg.InProcess {
		return startInProcess(ctx, cfg.Serve, s, b.stderr)
	}
	bin := cfg.ServerBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find this binary to run the server: %w", err)
		}
	}
	return startChild(ctx, bin, s.args(), s.SecretKey)
}

// allowPrivate is the --allow-private of the servers: the receiver's IP,
// and the broker's of a broker destination (when its URL names an IP or
// localhost).
func (b *bench) allowPrivate() string {
	allow := allowPrivateFor(b.recv.addr)
	if ip := brokerIP(b.cfg.brokerURL(b.cfg.Destination)); ip != nil {
		allow += "," + allowPrivateFor(net.JoinHostPort(ip.String(), "0"))
	}
	return allow
}

// remoteServer is a server the bench did not start.
type remoteServer string

func (r remoteServer) base() string                    { return string(r) }
func (r remoteServer) stop() (serverUsage, error)      { return serverUsage{}, nil }
func (r remoteServer) cpuSoFar() (time.Duration, bool) { return 0, false }

// inProcessServer is a server running inside the bench's own process.
type inProcessServer struct {
	addr     string
	shutdown func() error
	cpu0     time.Duration
}

func startInProcess(ctx context.Context, serve ServeFunc, s ServeSettings, stderr io.Writer) (*inProcessServer, error) {
	_, cpu0, _ := selfUsage()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	addr, shutdown, err := serve(ctx, s, logger)
	if err != nil {
		return nil, err
	}
	return &inProcessServer{addr: addr, shutdown: shutdown, cpu0: cpu0}, nil
}

func (p *inProcessServer) base() string { return "http://" + p.addr + "/api/v1" }

func (p *inProcessServer) cpuSoFar() (time.Duration, bool) {
	_, cpu, ok := selfUsage()
	return cpu - p.cpu0, ok
}

func (p *inProcessServer) stop() (serverUsage, error) {
	err := p.shutdown()
	rss, cpu, ok := selfUsage()
	return serverUsage{peakRSS: rss, rssKnown: ok, cpu: cpu - p.cpu0, cpuKnown: ok}, err
}

// childServer is a `hookbridge serve` child process.
type childServer struct {
	cmd  *exec.Cmd
	addr string
	logs *logTail
	done chan struct{} // closed once the process has exited and been waited for

	stopOnce sync.Once
	usage    serverUsage
	err      error
}

// startChild runs bin with args (a `serve` command line) and waits until it
// listens. The child is stopped when ctx ends.
func startChild(ctx context.Context, bin string, args []string, secretKey string) (*childServer, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = serverEnv(os.Environ())
	if secretKey != "" {
		cmd.Env = append(cmd.Env, "HOOKBRIDGE_SECRET_KEY="+secretKey) // not on the command line, which ps shows
	}
	cmd.Cancel = func() error { return stopProcess(cmd.Process) }
	cmd.WaitDelay = serverStopTimeout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	c := &childServer{cmd: cmd, logs: &logTail{max: 20}, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		defer close(c.done)
		c.logs.scan(stderr, func(line []byte) {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "hookbridge started" {
				select {
				case addrc <- rec.Addr:
				default:
				}
			}
		})
		_ = cmd.Wait() // the exit status is read from ProcessState
	}()
	timer := time.NewTimer(serverStartTimeout)
	defer timer.Stop()
	select {
	case c.addr = <-addrc:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("server exited before listening (%s):\n%s", cmd.ProcessState, c.logs)
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-c.done
		return nil, fmt.Errorf("server did not listen within %s:\n%s", serverStartTimeout, c.logs)
	}
}

// serverEnv is the environment of a server child: this one without the
// HOOKBRIDGE_* variables, so that the server under test runs with its
// defaults and the bench's flags, not with settings meant for another
// server.
func serverEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "HOOKBRIDGE_")
	})
}

func (c *childServer) base() string { return "http://" + c.addr + "/api/v1" }

func (c *childServer) cpuSoFar() (time.Duration, bool) { return processCPU(c.cmd.Process.Pid) }

// stop shuts the child down gracefully (SIGTERM), killing it if it does not
// exit in time, and reads its resource usage from the kernel.
func (c *childServer) stop() (serverUsage, error) {
	c.stopOnce.Do(func() {
		if err := stopProcess(c.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.err = fmt.Errorf("stop server: %w", err)
		}
		timer := time.NewTimer(serverStopTimeout)
		defer timer.Stop()
		select {
		case <-c.done:
		case <-timer.C:
			_ = c.cmd.Process.Kill()
			<-c.done
			c.err = cmp.Or(c.err, fmt.Errorf("server did not stop within %s; killed:\n%s", serverStopTimeout, c.logs))
		}
		ps := c.cmd.ProcessState
		if ps == nil {
			return
		}
		c.usage.cpu, c.usage.cpuKnown = ps.UserTime()+ps.SystemTime(), true
		c.usage.peakRSS, c.usage.rssKnown = childPeakRSS(ps)
		if !ps.Success() && c.err == nil {
			c.err = fmt.Errorf("server exited with %s:\n%s", ps, c.logs)
		}
	})
	return c.usage, c.err
}

// logTail keeps the last lines a child wrote, for error messages.
type logTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

// scan reads r line by line to its end, keeping each line and handing it
// to each. Whatever cannot be read as lines is drained, so that the writer
// never blocks on a full pipe.
func (t *logTail) scan(r io.Reader, each func(line []byte)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		t.add(sc.Bytes())
		each(sc.Bytes())
	}
	_, _ = io.Copy(io.Discard, r)
}

func (t *logTail) add(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, string(line))
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *logTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
