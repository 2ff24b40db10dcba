package brokertest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// opTimeout bounds each call a helper makes to a broker.
const opTimeout = 10 * time.Second

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return c
}

// AMQP is a test's own direct exchange and queue on the test RabbitMQ
// server, the queue bound to the exchange with its own name as the
// routing key. Both are deleted when the test ends.
type AMQP struct {
	Server          *url.URL // the server's URL, credentials included
	Exchange, Queue string
	ch              *amqp.Channel
	got             []Arrived // taken from the queue so far
}

// NewAMQP declares the test's exchange and queue.
func NewAMQP(t testing.TB) *AMQP {
	t.Helper()
	u := server(t, EnvAMQP, "RabbitMQ")
	conn, err := amqp.Dial(u.String())
	if err != nil {
		t.Fatalf("RabbitMQ at %s: %v", u.Host, err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	a := &AMQP{Server: u, Exchange: Name(t, "hb_test_x"), Queue: Name(t, "hb_test_q"), ch: ch}
	if err := ch.ExchangeDeclare(a.Exchange, amqp.ExchangeDirect, false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(a.Queue, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(a.Queue, a.Queue, a.Exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = ch.QueueDelete(a.Queue, false, false, false)
		_ = ch.ExchangeDelete(a.Exchange, false, false)
	})
	return a
}

// Addr is the server's host:port.
func (a *AMQP) Addr() string { return hostPort(a.Server, "5672") }

// URL is an endpoint URL publishing to the test's exchange and queue
// through addr (the server's, or a relay's), with the server's
// credentials, and extra query parameters if any.
func (a *AMQP) URL(addr string) string {
	u := url.URL{Scheme: "amqp", User: a.Server.User, Host: addr, Path: "/",
		RawQuery: url.Values{"exchange": {a.Exchange}, "routingKey": {a.Queue}}.Encode()}
	return u.String()
}

// Read takes the messages waiting in the test's queue and returns every
// message taken so far, in order, as the other brokers' Read return every
// message stored.
func (a *AMQP) Read(t testing.TB) []Arrived {
	t.Helper()
	for {
		d, ok, err := a.ch.Get(a.Queue, true)
		if err != nil {
			t.Fatalf("basic.get from %s: %v", a.Queue, err)
		}
		if !ok {
			return a.got
		}
		m := newArrived(d.Body)
		for k, v := range d.Headers {
			m.set(k, fmt.Sprint(v))
		}
		m.Raw["content-type"] = d.ContentType
		m.Raw["message-id"] = d.MessageId
		m.Raw["delivery-mode"] = strconv.Itoa(int(d.DeliveryMode))
		a.got = append(a.got, m)
	}
}

// NATS is a test's own JetStream stream on the test NATS server, taking
// one subject, with a two-minute duplicate window. It is deleted when the
// test ends.
type NATS struct {
	Server          *url.URL
	Stream, Subject string
	js              jetstream.JetStream
}

// NewNATS creates the test's stream.
func NewNATS(t testing.TB) *NATS {
	t.Helper()
	u := server(t, EnvNATS, "NATS")
	nc, err := nats.Connect(u.String())
	if err != nil {
		t.Fatalf("NATS at %s: %v", u.Host, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	name := Name(t, "hb_test")
	n := &NATS{Server: u, Stream: name, Subject: "hbtest." + name, js: js}
	if _, err := js.CreateStream(ctx(t), jetstream.StreamConfig{
		Name: n.Stream, Subjects: []string{n.Subject}, Storage: jetstream.MemoryStorage, Duplicates: 2 * time.Minute,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		_ = js.DeleteStream(c, n.Stream)
	})
	return n
}

// Addr is the server's host:port.
func (n *NATS) Addr() string { return hostPort(n.Server, "4222") }

// URL is an endpoint URL publishing to the test's subject through addr.
func (n *NATS) URL(addr string) string { return "nats://" + addr + "/" + n.Subject }

// Publish stores a message on the test's subject with the given
// Nats-Msg-Id, as an earlier try whose acknowledgement was lost would have.
func (n *NATS) Publish(t testing.TB, msgID string, body []byte) {
	t.Helper()
	if _, err := n.js.Publish(ctx(t), n.Subject, body, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

// Read returns every message in the test's stream, in order.
func (n *NATS) Read(t testing.TB) []Arrived {
	t.Helper()
	s, err := n.js.Stream(ctx(t), n.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []Arrived
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx(t), seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		m := newArrived(msg.Data)
		for k, v := range msg.Header {
			m.set(k, v[0])
		}
		got = append(got, m)
	}
	return got
}

// Redis is a test's own stream key on the test Redis server, deleted when
// the test ends.
type Redis struct {
	Server *url.URL
	Key    string
	client *redis.Client
}

// NewRedis names the test's stream.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	u := server(t, EnvRedis, "Redis")
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		t.Fatalf("%s: %v", EnvRedis, err)
	}
	client := redis.NewClient(opts)
	r := &Redis{Server: u, Key: Name(t, "hb_test"), client: client}
	if err := client.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", u.Host, err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		client.Del(c, r.Key)
		client.Close()
	})
	return r
}

// Addr is the server's host:port.
func (r *Redis) Addr() string { return hostPort(r.Server, "6379") }

// URL is an endpoint URL adding to the test's stream through addr, with
// extra query parameters if any (such as "&maxlen=10").
func (r *Redis) URL(addr, extra string) string {
	u := url.URL{Scheme: "redis", User: r.Server.User, Host: addr, Path: "/0",
		RawQuery: url.Values{"stream": {r.Key}}.Encode() + extra}
	return u.String()
}

// Client is a client of the test server, for setting up what a test needs.
func (r *Redis) Client() *redis.Client { return r.client }

// Read returns every entry of the test's stream, in order.
func (r *Redis) Read(t testing.TB) []Arrived {
	t.Helper()
	entries, err := r.client.XRange(ctx(t), r.Key, "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE %s: %v", r.Key, err)
	}
	var got []Arrived
	for _, e := range entries {
		body, _ := e.Values["body"].(string)
		m := newArrived([]byte(body))
		for k, v := range e.Values {
			if k != "body" {
				m.set(k, fmt.Sprint(v))
			}
		}
		m.Raw["id"] = e.ID
		got = append(got, m)
	}
	return got
}

// Kafka is an in-process Kafka cluster of one broker (franz-go's kfake)
// with one topic of one partition, which keeps its data in a directory of
// the test, so that it can be stopped and started again on the same port
// without losing what it stored.
type Kafka struct {
	Topic   string
	addr    string
	dir     string
	cluster *kfake.Cluster
}

// NewKafka starts a cluster.
func NewKafka(t testing.TB) *Kafka {
	t.Helper()
	k := StoppedKafka(t)
	k.Start(t)
	return k
}

// StoppedKafka returns a cluster not started yet: connections to its port
// are refused until Start.
func StoppedKafka(t testing.TB) *Kafka {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	k := &Kafka{Topic: Name(t, "hb_test"), addr: addr, dir: t.TempDir()}
	t.Cleanup(k.Stop)
	return k
}

// Addr is the cluster's host:port.
func (k *Kafka) Addr() string { return k.addr }

// URL is an endpoint URL producing to the test's topic, with a query
// ("?key=order") if any.
func (k *Kafka) URL(query string) string { return "kafka://" + k.addr + "/" + k.Topic + query }

// Start starts the cluster on its port, with what it stored before.
func (k *Kafka) Start(t testing.TB) {
	t.Helper()
	_, portText, _ := net.SplitHostPort(k.addr)
	port, _ := strconv.Atoi(portText)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(k.dir), kfake.SeedTopics(1, k.Topic))
	if err != nil {
		t.Fatalf("start kfake on %s: %v", k.addr, err)
	}
	k.cluster = c
}

// Stop closes the cluster: its port refuses connections.
func (k *Kafka) Stop() {
	if k.cluster != nil {
		k.cluster.Close()
		k.cluster = nil
	}
}

// Read returns every record of the test's topic, in order.
func (k *Kafka) Read(t testing.TB) []Arrived {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.Topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = k.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1 // the end
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx(t), cl)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	end := resp.Topics[0].Partitions[0].Offset
	var got []Arrived
	c := ctx(t)
	for int64(len(got)) < end {
		fetches := cl.PollFetches(c)
		if err := c.Err(); err != nil {
			t.Fatalf("read %d of %d records of %s: %v", len(got), end, k.Topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			m := newArrived(r.Value)
			for _, h := range r.Headers {
				m.set(h.Key, string(h.Value))
			}
			m.Key = string(r.Key)
			got = append(got, m)
		})
	}
	return got
}
