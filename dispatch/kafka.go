package dispatch

import (
	"bytes"
	"context"
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
// One client per seed broker. The client finds the rest of the cluster
// from its metadata and dials those brokers through the same guarded
// dialer; it reconnects by itself.
type kafkaTransport struct {
	pool    *connPool[*kafkaClient]
	timeout time.Duration
}

// kafkaClient is a client and the last failure to connect to a broker it
// saw. The client dials again by itself until the try runs out, so a try
// to a cluster that cannot be reached ends with its deadline; the failure
// says why it could not be reached.
type kafkaClient struct {
	cl       *kgo.Client
	mu       sync.Mutex
	dialErr  error
	dialedAt time.Time
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

func newKafkaTransport(dialer *net.Dialer, timeout time.Duration, log *slog.Logger) *kafkaTransport {
	t := &kafkaTransport{timeout: timeout}
	t.pool = newPool(func(_ context.Context, u *hookbridge.EndpointURL) (*kafkaClient, error) {
		c := &kafkaClient{}
		var err error
		c.cl, err = kgo.NewClient(
			kgo.WithHooks(c),
			kgo.SeedBrokers(u.HostPort()),
			kgo.Dialer(dialer.DialContext),
			kgo.ClientID("hookbridge"),
			// Each try is sent as soon as it comes; tries that come
			// while a request is in flight are batched anyway.
			kgo.ProducerLinger(0),
			// A topic that does not exist fails the try after two
			// metadata looks, not after the request timeout.
			kgo.UnknownTopicRetries(2),
		)
		if err != nil {
			log.Debug("dispatch: kafka client", "broker", u.HostPort(), "err", err)
			return nil, err
		}
		return c, nil
	}, func(c *kafkaClient) { c.cl.Close() }, nil)
	return t
}

func (t *kafkaTransport) send(ctx context.Context, m *outbound) sendResult {
	u := m.url
	began := time.Now()
	client, release, err := t.pool.get(ctx, u.HostPort(), u)
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
		if dialErr := client.dialFailure(began); dialErr != nil && !refused {
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
