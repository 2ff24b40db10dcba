package dispatch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/hookbridge/hookbridge"
)

// kafkaTransport produces to a Kafka topic: a record whose value is the
// JSON body, whose headers are the signature headers, and whose key is
// the message id, or the value of a top-level payload field the URL names
// (?key=order_id), so that one order's events land in one partition, in
// order. A try succeeds when the partition leader acknowledges the record
// (acks=all, the client's default); it fails when the topic does not exist
// or the cluster refuses the record.
//
// The producer is idempotent (franz-go's default): the broker drops a
// record the client sent twice within one producer session, such as a
// retry inside the client after a lost answer. A try of the dispatcher
// after a failed one is a new record, from a new client: a record whose
// try timed out may still have been written, and is then there twice
// (at least once, as for every transport).
//
// One client per seed broker and credentials. The client finds the rest of
// the cluster from its metadata and dials those brokers through the same
// guarded dialer; it reconnects by itself. A kafkas:// URL speaks TLS to
// every broker, each verified against the system's roots under its own
// name, as amqps://, rediss:// and NATS's tls:// do; a URL's ?sasl=
// authenticates each connection with its user and password (PLAIN or
// SCRAM, franz-go's own mechanisms).
type kafkaTransport struct {
	pool    *connPool[*kafkaClient]
	timeout time.Duration
}

// kafkaClient is a client and the last failure to connect to a broker it
// saw. The client dials again by itself until the try runs out, so a try
// to a cluster that cannot be reached ends with its deadline; the failure
// says why it could not be reached. With SASL it also knows whether the
// last authentication was left unfinished: a broker may refuse credentials
// by closing the connection, which the client reports as a bare EOF.
type kafkaClient struct {
	cl          *kgo.Client
	mu          sync.Mutex
	dialErr     error
	dialedAt    time.Time
	authPending bool // an authentication began and was not accepted
	authAt      time.Time
}

// OnBrokerConnect is kgo's hook, called after each connection attempt.
func (c *kafkaClient) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	c.mu.Lock()
	c.dialErr, c.dialedAt = err, time.Now()
	c.mu.Unlock()
}

// dialFailure is the error of the last connection attempt if it failed
// after since.
func (c *kafkaClient) dialFailure(since time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dialErr != nil && !c.dialedAt.Before(since) {
		return c.dialErr
	}
	return nil
}

// authFailure reports whether an authentication that began after since
// was not accepted.
func (c *kafkaClient) authFailure(since time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authPending && !c.authAt.Before(since)
}

func (c *kafkaClient) authenticating(pending bool) {
	c.mu.Lock()
	c.authPending, c.authAt = pending, time.Now()
	c.mu.Unlock()
}

// kafkaAuth is a SASL mechanism that tells its client when an
// authentication begins and when the broker accepts it.
type kafkaAuth struct {
	sasl.Mechanism
	c *kafkaClient
}

func (a kafkaAuth) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	a.c.authenticating(true)
	s, first, err := a.Mechanism.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	return kafkaAuthSession{s, a.c}, first, nil
}

type kafkaAuthSession struct {
	sasl.Session
	c *kafkaClient
}

func (s kafkaAuthSession) Challenge(resp []byte) (bool, []byte, error) {
	done, next, err := s.Session.Challenge(resp)
	if done && err == nil {
		s.c.authenticating(false)
	}
	return done, next, err
}

// errKafkaAuth is the failure of a try whose authentication the broker
// ended without accepting it.
var errKafkaAuth = errors.New("authentication not accepted")

func newKafkaTransport(dialer *net.Dialer, timeout time.Duration, log *slog.Logger) *kafkaTransport {
	t := &kafkaTransport{timeout: timeout}
	t.pool = newPool(func(_ context.Context, u *hookbridge.EndpointURL) (*kafkaClient, error) {
		c := &kafkaClient{}
		opts := []kgo.Opt{
			kgo.WithHooks(c),
			kgo.SeedBrokers(u.HostPort()),
			kgo.Dialer(kafkaDialer(dialer, u.TLS)),
			kgo.ClientID("hookbridge"),
			// Each try is sent as soon as it comes; tries that come
			// while a request is in flight are batched anyway.
			kgo.ProducerLinger(0),
			// A topic that does not exist fails the try after two
			// metadata looks, not after the request timeout.
			kgo.UnknownTopicRetries(2),
		}
		if m := kafkaSASL(u); m != nil {
			opts = append(opts, kgo.SASL(kafkaAuth{m, c}))
		}
		var err error
		c.cl, err = kgo.NewClient(opts...)
		if err != nil {
			log.Debug("dispatch: kafka client", "broker", u.HostPort(), "err", err)
			return nil, err
		}
		return c, nil
	}, func(c *kafkaClient) { c.cl.Close() }, nil)
	return t
}

// kafkaDialer dials a broker through the guarded dialer and, for a
// kafkas:// URL, makes the connection TLS, verified for the host dialed:
// the seed broker, or one its metadata names. (kgo's own TLS option cannot
// go with a dialer of ours.)
func kafkaDialer(dialer *net.Dialer, useTLS bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if !useTLS {
		return dialer.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		conn, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(conn, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		return tc, nil
	}
}

// kafkaSASL is the SASL mechanism the URL names, with its credentials; nil
// for none.
func kafkaSASL(u *hookbridge.EndpointURL) sasl.Mechanism {
	switch u.SASL {
	case "PLAIN":
		return plain.Auth{User: u.User, Pass: u.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: u.User, Pass: u.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: u.User, Pass: u.Password}.AsSha512Mechanism()
	}
	return nil
}

func (t *kafkaTransport) send(ctx context.Context, m *outbound) sendResult {
	u := m.url
	began := time.Now()
	// Clients are not shared across schemes or credentials: a changed
	// password gets a client of its own.
	client, release, err := t.pool.get(ctx, poolKey(u, u.SASL), u)
	if err != nil {
		return kafkaFailure(err, u, t.timeout)
	}
	rec := &kgo.Record{
		Topic:   u.Topic,
		Key:     []byte(kafkaKey(m.body, u.KeyField, m.claim.Message.ID)),
		Value:   m.body,
		Headers: make([]kgo.RecordHeader, 0, len(m.header)),
	}
	for k, v := range m.header {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	slices.SortFunc(rec.Headers, func(a, b kgo.RecordHeader) int { return strings.Compare(a.Key, b.Key) })
	// Not ProduceSync: an idempotent producer does not give up a record
	// it has sent until it has an answer for it, which may be never for a
	// cluster that went away; the try must end with its deadline.
	produced := make(chan error, 1)
	client.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { produced <- err })
	select {
	case err = <-produced:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		var kafkaErr *kerr.Error
		refused := errors.As(err, &kafkaErr)
		switch dialErr := client.dialFailure(began); {
		case refused:
		case client.authFailure(began):
			err = fmt.Errorf("%w: %w", errKafkaAuth, err)
		case dialErr != nil:
			err = dialErr // why the cluster could not be reached, rather than that the try ran out
		}
		// A try that got no answer gives up its client, which is closed
		// once no other try uses it, failing the record if still
		// buffered: a new client for the next try, with no record or
		// topic state left over from the outage (a client that could not
		// reach a topic may fail its next record at once with the old
		// error).
		release(!refused)
		return kafkaFailure(err, u, t.timeout)
	}
	release(false)
	return sendResult{accepted: true, text: fmt.Sprintf("written to topic %s, partition %d, offset %d",
		rec.Topic, rec.Partition, rec.Offset)}
}

// kafkaKey is the record key: the payload's top-level field when the URL
// names one and it holds a string or a number (its text), else the message
// id.
func kafkaKey(payload []byte, field, msgID string) string {
	if field == "" {
		return msgID
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return msgID
	}
	v := bytes.TrimSpace(fields[field])
	switch {
	case len(v) == 0:
		return msgID
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil && s != "" {
			return s
		}
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		return string(v)
	}
	return msgID
}

// kafkaFailure says why a record was not acknowledged: the cluster's own
// error (unknown topic, record too large, not authorized), by its name,
// or a connection failure, said as for HTTP.
func kafkaFailure(err error, u *hookbridge.EndpointURL, timeout time.Duration) sendResult {
	var kafkaErr *kerr.Error
	switch {
	case errors.As(err, &kafkaErr) && kafkaErr == kerr.SaslAuthenticationFailed:
		return refusal(fmt.Sprintf("the cluster refused the credentials (SASL %s, SASL_AUTHENTICATION_FAILED): check the URL's user, password and ?sasl=", u.SASL), err)
	case errors.Is(err, errKafkaAuth):
		return refusal(fmt.Sprintf("the cluster refused the credentials (SASL %s: it closed the connection without accepting them): check the URL's user, password and ?sasl=", u.SASL), err)
	case errors.As(err, &kafkaErr) && kafkaErr == kerr.UnsupportedSaslMechanism:
		return refusal(fmt.Sprintf("the cluster does not take SASL %s (UNSUPPORTED_SASL_MECHANISM): change the URL's ?sasl=", u.SASL), err)
	case errors.As(err, &kafkaErr) && kafkaErr == kerr.UnknownTopicOrPartition:
		return refusal(fmt.Sprintf("the cluster has no topic %s (UNKNOWN_TOPIC_OR_PARTITION): an operator must create it", u.Topic), err)
	case errors.As(err, &kafkaErr):
		return refusal(fmt.Sprintf("the cluster refused the record: %s: %s", kafkaErr.Message, kafkaErr.Description), err)
	case errors.Is(err, kgo.ErrRecordTimeout):
		return noAnswer(fmt.Sprintf("timed out after %s", timeout), err)
	case errors.Is(err, errStopped):
		return noAnswer(err.Error(), err)
	}
	return noAnswer(failureAt(err, u.Host, u.HostPort(), timeout), err)
}
