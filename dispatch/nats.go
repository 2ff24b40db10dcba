package dispatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookbridge/hookbridge"
)

// natsTransport publishes to NATS JetStream: a message on the URL's
// subject, which a stream the operator made must take, with the JSON body,
// the signature headers as NATS headers, and Nats-Msg-Id = the message id,
// so that the stream drops a second copy within its duplicate window (a
// retry after a lost acknowledgement). A try succeeds when the stream
// acknowledges the message; it fails when no stream takes the subject, or
// the stream refuses it (full, limits).
//
// One connection per server and user. It does not reconnect by itself: a
// connection that broke is closed, and the next try dials again, so that a
// message is never buffered for a connection that may not come back.
type natsTransport struct {
	pool    *connPool[*natsConn]
	timeout time.Duration
}

type natsConn struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func newNATSTransport(dialer *net.Dialer, timeout time.Duration, log *slog.Logger) *natsTransport {
	t := &natsTransport{timeout: timeout}
	t.pool = newPool(loggedDial(log, "nats", func(_ context.Context, u *hookbridge.EndpointURL) (*natsConn, error) {
		nc, err := dialNATS(dialer, u, timeout, log)
		if err != nil {
			return nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, err
		}
		return &natsConn{nc: nc, js: js}, nil
	}), func(c *natsConn) { c.nc.Close() }, func(c *natsConn) bool { return !c.nc.IsClosed() })
	return t
}

// dialNATS connects to the server u names through the guarded dialer. The
// credentials go as options, not in the URL, so no error text holds them.
func dialNATS(dialer *net.Dialer, u *hookbridge.EndpointURL, timeout time.Duration, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("hookbridge"),
		nats.SetCustomDialer(dialer),
		nats.Timeout(timeout),
		nats.NoReconnect(),
		nats.NoCallbacksAfterClientClose(),
		// Asynchronous errors (a slow consumer, a permission refused on a
		// subject) are the operator's: to the log, not to stderr.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Debug("dispatch: nats", "broker", u.Scheme+"://"+u.HostPort(), "err", err)
		}),
	}
	switch {
	case u.HasPassword:
		opts = append(opts, nats.UserInfo(u.User, u.Password))
	case u.User != "":
		opts = append(opts, nats.Token(u.User))
	}
	scheme := "nats"
	if u.TLS {
		scheme = "tls"
		opts = append(opts, nats.Secure(&tls.Config{ServerName: u.Host, MinVersion: tls.VersionTLS12}))
	}
	return nats.Connect(scheme+"://"+u.HostPort(), opts...)
}

func (t *natsTransport) send(ctx context.Context, m *outbound) sendResult {
	u := m.url
	conn, release, err := t.pool.get(ctx, poolKey(u), u)
	if err != nil {
		return natsFailure(err, u, t.timeout)
	}
	defer release(false)
	msg := &nats.Msg{Subject: u.Subject, Data: m.body, Header: make(nats.Header, len(m.header)+1)}
	for k, v := range m.header {
		msg.Header[k] = []string{v}
	}
	ack, err := conn.js.PublishMsg(ctx, msg, jetstream.WithMsgID(m.claim.Message.ID))
	if err != nil {
		return natsFailure(err, u, t.timeout)
	}
	text := fmt.Sprintf("stored by stream %s with sequence %d", ack.Stream, ack.Sequence)
	if ack.Duplicate {
		// An earlier try got through though its acknowledgement was
		// lost: the stream kept one copy.
		text = fmt.Sprintf("already stored by stream %s (a duplicate of an earlier try, dropped by the stream)", ack.Stream)
	}
	return sendResult{accepted: true, text: text}
}

// natsFailure says why a try was not acknowledged: no stream takes the
// subject, the stream refused it, the server refused the credentials, or
// the connection failed (said as for HTTP).
func natsFailure(err error, u *hookbridge.EndpointURL, timeout time.Duration) sendResult {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return refusal(fmt.Sprintf("no JetStream stream takes subject %s (no responders): an operator must create one", u.Subject), err)
	case errors.As(err, &apiErr):
		return refusal(fmt.Sprintf("JetStream refused the message: %s (error %d)", apiErr.Description, apiErr.ErrorCode), err)
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return refusal("the server refused the credentials of the URL: authorization violation", err)
	case errors.Is(err, nats.ErrPermissionViolation):
		return refusal("the server refused: permission violation for subject "+u.Subject, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return noAnswer("the connection to "+u.HostPort()+" was lost", err)
	case errors.Is(err, nats.ErrTimeout):
		return noAnswer(fmt.Sprintf("timed out after %s", timeout), err)
	case errors.Is(err, nats.ErrNoServers):
		// What the client makes of a refused connection to its one server.
		return noAnswer("connection refused by "+u.HostPort(), err)
	case errors.Is(err, errStopped):
		return noAnswer(err.Error(), err)
	}
	return noAnswer(failureAt(err, u.Host, u.HostPort(), timeout), err)
}
