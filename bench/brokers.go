package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// Where the bench's endpoints deliver (--destination): its HTTP receiver,
// or a message broker that the bench consumes from.
const (
	DestHTTP  = "http"
	DestAMQP  = "amqp"
	DestNATS  = "nats"
	DestRedis = "redis"
)

// The brokers a broker destination uses unless told otherwise: the local
// ones, with RabbitMQ's default user.
const (
	DefaultAMQPURL  = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultNATSURL  = "nats://127.0.0.1:4222"
	DefaultRedisURL = "redis://127.0.0.1:6379"
)

// maxBrokerEndpoints bounds the endpoints of a broker run: each has a queue,
// stream or stream key of its own, and a consumer.
const maxBrokerEndpoints = 100

// brokerOpTimeout bounds each setup and cleanup call to a broker.
const brokerOpTimeout = 10 * time.Second

// consumer reads what the server published to a broker for each endpoint
// and hands every message to the receiver, which checks and counts it as it
// does a request.
type consumer interface {
	// endpointURL is the URL of endpoint k: a destination of its own, so
	// that a message is attributed to the endpoint it was owed to (NATS
	// JetStream would also drop a second copy of one message id in one
	// stream).
	endpointURL(k int) string
	// close stops consuming and deletes what the bench created.
	close()
}

// startConsumer creates the destinations of n endpoints on the broker of
// dest and starts consuming from them. run makes their names the run's own.
func startConsumer(ctx context.Context, cfg *Config, dest, run string, n int, recv *receiver) (consumer, error) {
	switch dest {
	case DestAMQP:
		return startAMQP(cfg.AMQPURL, run, n, recv)
	case DestNATS:
		return startNATS(ctx, cfg.NATSURL, run, n, recv)
	case DestRedis:
		return startRedis(ctx, cfg.RedisURL, run, n, recv)
	}
	return nil, fmt.Errorf("--destination %q has no consumer", dest)
}

// brokerURL returns the URL of the broker of dest.
func (c *Config) brokerURL(dest string) string {
	switch dest {
	case DestAMQP:
		return c.AMQPURL
	case DestNATS:
		return c.NATSURL
	case DestRedis:
		return c.RedisURL
	}
	return ""
}

// brokerIP returns the IP of a broker URL's host when it is a literal
// address or localhost, for the server's --allow-private.
func brokerIP(raw string) net.IP {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	if u.Hostname() == "localhost" {
		return net.IPv4(127, 0, 0, 1)
	}
	return net.ParseIP(u.Hostname())
}

// dial parses the broker URL raw, given by flag, and connects to it.
func dial[C any](raw, flag, broker string, connect func(string) (C, error)) (*url.URL, C, error) {
	var conn C
	u, err := url.Parse(raw)
	if err != nil {
		return nil, conn, fmt.Errorf("%s: %w", flag, err)
	}
	if conn, err = connect(raw); err != nil {
		return nil, conn, fmt.Errorf("%s at %s: %w", broker, u.Host, err)
	}
	return u, conn, nil
}

// arrivedHeader copies a broker message's headers (or a Redis entry's
// fields) into an http.Header, which canonicalises their names as the
// signature check reads them.
func arrivedHeader(each func(yield func(k, v string))) http.Header {
	h := make(http.Header, 4)
	each(func(k, v string) { h.Set(k, v) })
	return h
}

// amqpConsumer consumes one durable queue per endpoint on RabbitMQ, each
// taking the messages published to the default exchange with its name as
// the routing key.
type amqpConsumer struct {
	server *url.URL
	queues []string
	conn   *amqp.Connection
	ch     *amqp.Channel
	wg     sync.WaitGroup
}

func startAMQP(raw, run string, n int, recv *receiver) (*amqpConsumer, error) {
	u, conn, err := dial(raw, "--amqp-url", "RabbitMQ", amqp.Dial)
	if err != nil {
		return nil, err
	}
	c := &amqpConsumer{server: u, conn: conn}
	if c.ch, err = conn.Channel(); err == nil {
		err = c.ch.Qos(1000, 0, false)
	}
	for k := 0; k < n && err == nil; k++ {
		q := fmt.Sprintf("hookbridge-bench-%s-%d", run, k)
		if _, err = c.ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
			break
		}
		c.queues = append(c.queues, q)
		var msgs <-chan amqp.Delivery
		if msgs, err = c.ch.Consume(q, "", true, false, false, false, nil); err != nil {
			break
		}
		c.wg.Go(func() {
			for d := range msgs {
				h := arrivedHeader(func(set func(k, v string)) {
					for name, v := range d.Headers {
						if s, ok := v.(string); ok {
							set(name, s)
						}
					}
				})
				_ = recv.arrive(k, d.Body, h) // counted invalid when it fails
			}
		})
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("RabbitMQ at %s: %w", u.Host, err)
	}
	return c, nil
}

func (c *amqpConsumer) endpointURL(k int) string {
	u := *c.server
	if u.Path == "" {
		u.Path = "/"
	}
	u.RawQuery = url.Values{"routingKey": {c.queues[k]}}.Encode()
	return u.String()
}

func (c *amqpConsumer) close() {
	if c.ch != nil {
		for _, q := range c.queues {
			_, _ = c.ch.QueueDelete(q, false, false, false)
		}
	}
	_ = c.conn.Close() // ends the consumers' channels
	c.wg.Wait()
}

// natsConsumer consumes one JetStream stream per endpoint, stored in files
// as an operator's would be, each taking a subject of its own.
type natsConsumer struct {
	server   *url.URL
	nc       *nats.Conn
	js       jetstream.JetStream
	streams  []string
	subjects []string
	consumes []jetstream.ConsumeContext
}

func startNATS(ctx context.Context, raw, run string, n int, recv *receiver) (*natsConsumer, error) {
	u, nc, err := dial(raw, "--nats-url", "NATS", func(raw string) (*nats.Conn, error) { return nats.Connect(raw) })
	if err != nil {
		return nil, err
	}
	c := &natsConsumer{server: u, nc: nc}
	if c.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, err
	}
	for k := range n {
		name := fmt.Sprintf("hookbridge-bench-%s-%d", run, k)
		subject := fmt.Sprintf("hookbridge.bench.%s.%d", run, k)
		if err = c.stream(ctx, name, subject, k, recv); err != nil {
			break
		}
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("NATS at %s: %w", u.Host, err)
	}
	return c, nil
}

func (c *natsConsumer) stream(ctx context.Context, name, subject string, k int, recv *receiver) error {
	ctx, cancel := context.WithTimeout(ctx, brokerOpTimeout)
	defer cancel()
	s, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	c.streams, c.subjects = append(c.streams, name), append(c.subjects, subject)
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		h := arrivedHeader(func(set func(k, v string)) {
			for name, v := range m.Headers() {
				if len(v) > 0 {
					set(name, v[0])
				}
			}
		})
		_ = recv.arrive(k, m.Data(), h)
	})
	if err != nil {
		return err
	}
	c.consumes = append(c.consumes, cc)
	return nil
}

func (c *natsConsumer) endpointURL(k int) string {
	u := url.URL{Scheme: c.server.Scheme, User: c.server.User, Host: c.server.Host, Path: "/" + c.subjects[k]}
	return u.String()
}

func (c *natsConsumer) close() {
	for _, cc := range c.consumes {
		cc.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerOpTimeout)
	defer cancel()
	for _, s := range c.streams {
		_ = c.js.DeleteStream(ctx, s)
	}
	c.nc.Close()
}

// redisConsumer reads one stream key per endpoint on Redis, all with one
// blocking XREAD loop.
type redisConsumer struct {
	server *url.URL
	client *redis.Client
	keys   []string
	cancel context.CancelFunc
	done   chan struct{}
}

func startRedis(ctx context.Context, raw, run string, n int, recv *receiver) (*redisConsumer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	c := &redisConsumer{server: u, client: redis.NewClient(opts), done: make(chan struct{})}
	pctx, cancel := context.WithTimeout(ctx, brokerOpTimeout)
	defer cancel()
	if err := c.client.Ping(pctx).Err(); err != nil {
		c.client.Close()
		return nil, fmt.Errorf("ping of Redis at %s: %w", u.Host, err)
	}
	index := make(map[string]int, n)
	streams := make([]string, 0, 2*n)
	for k := range n {
		key := fmt.Sprintf("hookbridge-bench:%s:%d", run, k)
		c.keys = append(c.keys, key)
		index[key] = k
		streams = append(streams, key)
	}
	for range n {
		streams = append(streams, "0")
	}
	readCtx, stop := context.WithCancel(context.Background())
	c.cancel = stop
	go c.read(readCtx, streams, index, recv)
	return c, nil
}

// read reads the streams from their start until ctx ends.
func (c *redisConsumer) read(ctx context.Context, streams []string, index map[string]int, recv *receiver) {
	defer close(c.done)
	n := len(streams) / 2
	for ctx.Err() == nil {
		res, err := c.client.XRead(ctx, &redis.XReadArgs{Streams: streams, Count: 1000, Block: time.Second}).Result()
		if err != nil {
			if !errors.Is(err, redis.Nil) && ctx.Err() == nil {
				// A Redis that went away: look again shortly rather
				// than spin.
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			continue
		}
		for _, st := range res {
			k := index[st.Stream]
			for _, m := range st.Messages {
				body, _ := m.Values["body"].(string)
				h := arrivedHeader(func(set func(k, v string)) {
					for name, v := range m.Values {
						if s, ok := v.(string); ok && name != "body" {
							set(name, s)
						}
					}
				})
				_ = recv.arrive(k, []byte(body), h)
				streams[n+k] = m.ID
			}
		}
	}
}

func (c *redisConsumer) endpointURL(k int) string {
	u := url.URL{Scheme: c.server.Scheme, User: c.server.User, Host: c.server.Host, Path: c.server.Path,
		RawQuery: url.Values{"stream": {c.keys[k]}}.Encode()}
	if u.Path == "" {
		u.Path = "/0"
	}
	return u.String()
}

func (c *redisConsumer) close() {
	c.cancel()
	<-c.done
	ctx, cancel := context.WithTimeout(context.Background(), brokerOpTimeout)
	defer cancel()
	c.client.Del(ctx, c.keys...)
	c.client.Close()
}
