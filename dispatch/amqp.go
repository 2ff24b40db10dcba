package dispatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hookbridge/hookbridge"
)

// amqpTransport publishes to RabbitMQ (AMQP 0-9-1): a persistent message
// with the JSON body, content type application/json, message id = the
// message's id, and the signature headers in its headers table, published
// mandatory on a channel in confirm mode. A try succeeds when the broker
// confirms the message (basic.ack); it fails when the broker cannot route
// it to any queue (basic.return), refuses it (basic.nack), or closes the
// channel (an exchange that does not exist).
//
// One connection per broker, virtual host and user; on it, a channel per
// message in flight, kept for the next one. One message at a time per
// channel is what lets a basic.return be matched to its message: the broker
// sends it before the basic.ack of the same message, on the same channel.
type amqpTransport struct {
	pool    *connPool[*amqpConn]
	timeout time.Duration
}

// amqpConn is one connection and its idle channels.
type amqpConn struct {
	conn *amqp.Connection
	free chan *amqpChannel
}

// amqpChannel is a channel in confirm mode with its notifications: returns
// and closes each hold one at most, since one message at a time is
// published on it.
type amqpChannel struct {
	ch      *amqp.Channel
	returns chan amqp.Return
	closed  chan *amqp.Error
}

// amqpIdleChannels bounds the channels a connection keeps open for reuse.
const amqpIdleChannels = 64

func newAMQPTransport(dialer *net.Dialer, timeout time.Duration, log *slog.Logger) *amqpTransport {
	t := &amqpTransport{timeout: timeout}
	t.pool = newPool(loggedDial(log, "amqp", func(ctx context.Context, u *hookbridge.EndpointURL) (*amqpConn, error) {
		conn, err := dialAMQP(ctx, dialer, u, timeout)
		if err != nil {
			return nil, err
		}
		return &amqpConn{conn: conn, free: make(chan *amqpChannel, amqpIdleChannels)}, nil
	}), func(c *amqpConn) {
		_ = c.conn.CloseDeadline(time.Now().Add(time.Second))
	}, func(c *amqpConn) bool { return !c.conn.IsClosed() })
	return t
}

// dialAMQP opens a connection to the broker u names, through the guarded
// dialer. The URI handed to the client is rebuilt from u: the endpoint's
// query parameters are Hookbridge's, and the client's own (certificate
// files, among others) are not for an endpoint owner to set.
func dialAMQP(ctx context.Context, dialer *net.Dialer, u *hookbridge.EndpointURL, timeout time.Duration) (*amqp.Connection, error) {
	uri := url.URL{Scheme: u.Scheme, Host: u.HostPort(), Path: "/" + u.VHost, RawPath: "/" + url.PathEscape(u.VHost)}
	if u.User != "" || u.HasPassword {
		uri.User = url.UserPassword(u.User, u.Password)
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	cfg := amqp.Config{
		Vhost:      u.VHost,
		Properties: amqp.Table{"connection_name": "hookbridge"},
		Dial: func(network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshake (TLS and AMQP) gets the rest of the try; the
			// client clears the deadline once the connection is open.
			if err := conn.SetDeadline(deadline); err != nil {
				conn.Close()
				return nil, err
			}
			return conn, nil
		},
	}
	if u.TLS {
		cfg.TLSClientConfig = &tls.Config{ServerName: u.Host, MinVersion: tls.VersionTLS12}
	}
	return amqp.DialConfig(uri.String(), cfg)
}

func (t *amqpTransport) send(ctx context.Context, m *outbound) sendResult {
	u := m.url
	conn, release, err := t.pool.get(ctx, poolKey(u, u.VHost), u)
	if err != nil {
		return amqpFailure(err, u, t.timeout)
	}
	defer release(false)
	ch, err := conn.channel()
	if err != nil {
		return amqpFailure(err, u, t.timeout)
	}

	headers := make(amqp.Table, len(m.header))
	for k, v := range m.header {
		if k != "content-type" { // a property of its own
			headers[k] = v
		}
	}
	msg := amqp.Publishing{
		Headers:      headers,
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    m.claim.Message.ID,
		Timestamp:    m.ts,
		AppId:        "hookbridge",
		Body:         m.body,
	}
	confirm, err := ch.ch.PublishWithDeferredConfirmWithContext(ctx, u.Exchange, u.RoutingKey, true, false, msg)
	if err != nil {
		ch.ch.Close()
		return amqpFailure(ch.closeReason(err), u, t.timeout)
	}
	acked, err := confirm.WaitContext(ctx)
	if err != nil {
		// No confirm in time: the channel may still get it, for this
		// message, after the next one is published on it.
		ch.ch.Close()
		return noAnswer(connFailure(err, u.HostPort(), t.timeout), err)
	}
	select {
	case ret, ok := <-ch.returns:
		if ok {
			conn.put(ch)
			text := fmt.Sprintf("the broker could not route the message to any queue: %d %s (exchange %q, routing key %q)",
				ret.ReplyCode, ret.ReplyText, u.Exchange, u.RoutingKey)
			return refusal(text, errors.New(ret.ReplyText))
		}
	default:
	}
	if !acked {
		// A nack, or the channel closed before its confirm: the broker
		// closes it for an exchange that does not exist.
		if reason := ch.closeReason(nil); reason != nil {
			ch.ch.Close()
			return amqpFailure(reason, u, t.timeout)
		}
		conn.put(ch)
		return refusal("the broker refused the message (basic.nack)", errors.New("nack"))
	}
	conn.put(ch)
	return sendResult{accepted: true, text: fmt.Sprintf("confirmed by the broker: published to exchange %q with routing key %q",
		u.Exchange, u.RoutingKey)}
}

// channel takes an idle channel of c, or opens one.
func (c *amqpConn) channel() (*amqpChannel, error) {
	for {
		var ch *amqpChannel
		select {
		case ch = <-c.free:
		default:
		}
		if ch == nil {
			break
		}
		if !ch.ch.IsClosed() {
			return ch, nil
		}
	}
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, err
	}
	return &amqpChannel{
		ch:      ch,
		returns: ch.NotifyReturn(make(chan amqp.Return, 1)),
		closed:  ch.NotifyClose(make(chan *amqp.Error, 1)),
	}, nil
}

// put keeps ch for the next message, or closes it when enough are kept.
func (c *amqpConn) put(ch *amqpChannel) {
	select {
	case c.free <- ch:
	default:
		ch.ch.Close()
	}
}

// closeReason is why the channel was closed, if it was (the broker's
// error), else err.
func (ch *amqpChannel) closeReason(err error) error {
	select {
	case e, ok := <-ch.closed:
		if ok && e != nil {
			return e
		}
	default:
	}
	return err
}

// amqpFailure says why a try got no confirm: the broker's own refusal (an
// AMQP error it sent: access refused, no such exchange or virtual host),
// said as the broker said it, or a connection failure, said as for HTTP.
func amqpFailure(err error, u *hookbridge.EndpointURL, timeout time.Duration) sendResult {
	var aerr *amqp.Error
	switch {
	case errors.Is(err, amqp.ErrSASL), errors.Is(err, amqp.ErrCredentials):
		return refusal("the broker refused the credentials of the URL", err)
	case errors.Is(err, amqp.ErrVhost):
		return refusal(fmt.Sprintf("the broker refused the virtual host %q", u.VHost), err)
	case errors.As(err, &aerr) && !aerr.Server:
		// The client's own: the connection broke.
		return noAnswer("the connection to "+u.HostPort()+" was lost: "+scrubAddresses(aerr.Reason), err)
	case errors.As(err, &aerr):
		text := fmt.Sprintf("the broker refused: %d %s", aerr.Code, aerr.Reason)
		if aerr.Code == amqp.AccessRefused || strings.Contains(aerr.Reason, "ACCESS_REFUSED") {
			text += " (check the user and password of the URL)"
		}
		return refusal(text, err)
	case errors.Is(err, amqp.ErrClosed):
		return noAnswer("the connection to "+u.HostPort()+" was closed", err)
	case errors.Is(err, errStopped):
		return noAnswer(err.Error(), err)
	}
	return noAnswer(failureAt(err, u.Host, u.HostPort(), timeout), err)
}
