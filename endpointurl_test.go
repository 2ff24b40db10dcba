package hookbridge

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEndpointURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		raw  string
		want EndpointURL
	}{
		{"https://example.com/hook", EndpointURL{Transport: TransportHTTP, Scheme: "https", TLS: true, Host: "example.com", Port: "443"}},
		{"HTTP://example.com:8080", EndpointURL{Transport: TransportHTTP, Scheme: "http", Host: "example.com", Port: "8080"}},
		{"amqp://user:p%40ss@mq.example.com/shop?exchange=orders&routingKey=paid",
			EndpointURL{Transport: TransportAMQP, Scheme: "amqp", Host: "mq.example.com", Port: "5672", User: "user", Password: "p@ss",
				HasPassword: true, VHost: "shop", Exchange: "orders", RoutingKey: "paid"}},
		{"amqps://mq.example.com?routingKey=q", EndpointURL{Transport: TransportAMQP, Scheme: "amqps", TLS: true, Host: "mq.example.com",
			Port: "5671", VHost: "/", RoutingKey: "q"}},
		{"amqp://mq/%2Fprod%2Feu?exchange=x", EndpointURL{Transport: TransportAMQP, Scheme: "amqp", Host: "mq", Port: "5672",
			VHost: "/prod/eu", Exchange: "x"}},
		{"nats://[::1]:4223/orders.created", EndpointURL{Transport: TransportNATS, Scheme: "nats", Host: "::1", Port: "4223", Subject: "orders.created"}},
		{"tls://s3cr3t@nats.example.com/orders", EndpointURL{Transport: TransportNATS, Scheme: "tls", TLS: true, Host: "nats.example.com",
			Port: "4222", User: "s3cr3t", Subject: "orders"}},
		{"redis://:pw@cache:6380/3?stream=hooks&maxlen=1000", EndpointURL{Transport: TransportRedis, Scheme: "redis", Host: "cache",
			Port: "6380", Password: "pw", HasPassword: true, DB: 3, Stream: "hooks", MaxLen: 1000}},
		{"rediss://cache?stream=hooks", EndpointURL{Transport: TransportRedis, Scheme: "rediss", TLS: true, Host: "cache", Port: "6379", Stream: "hooks"}},
		{"kafka://k1:9093/orders.v1?key=order_id", EndpointURL{Transport: TransportKafka, Scheme: "kafka", Host: "k1", Port: "9093",
			Topic: "orders.v1", KeyField: "order_id"}},
		{"kafkas://hb:p%40ss@k1/orders?sasl=scram-sha-512", EndpointURL{Transport: TransportKafka, Scheme: "kafkas", TLS: true, Host: "k1",
			Port: "9093", User: "hb", Password: "p@ss", HasPassword: true, Topic: "orders", SASL: "SCRAM-SHA-512"}},
		{"kafka://hb:pw@k1/orders?sasl=PLAIN&key=id", EndpointURL{Transport: TransportKafka, Scheme: "kafka", Host: "k1",
			Port: "9092", User: "hb", Password: "pw", HasPassword: true, Topic: "orders", KeyField: "id", SASL: "PLAIN"}},
	} {
		got, err := ParseEndpointURL(c.raw)
		if err != nil {
			t.Errorf("ParseEndpointURL(%q): %v", c.raw, err)
			continue
		}
		if *got != c.want {
			t.Errorf("ParseEndpointURL(%q)\n = %+v\nwant %+v", c.raw, *got, c.want)
		}
	}

	for _, c := range []struct{ raw, says string }{
		{"ftp://example.com/x", "the scheme must be http, https, amqp"},
		{"mailto:someone@example.com", "the scheme must be"},
		{"https://user:pw@example.com/", "credentials in the URL are not supported"},
		{"https:///path", "missing host"},
		{"amqp://mq/", "needs ?exchange= or ?routingKey="},
		{"amqp://mq/a/b?exchange=x", "one segment"},
		{"amqp://mq/?exchange=x&cacertfile=/etc/passwd", `unknown parameter "cacertfile"`},
		{"amqp://mq/?exchange=x&exchange=y", "given 2 times"},
		{"amqp://mq/?exchange=" + strings.Repeat("x", 256), "at most 255 bytes"},
		{"amqp://mq/?exchange=x#frag", "no fragment"},
		{"nats://n", "names the subject"},
		{"nats://n/orders.*", "wildcards"},
		{"nats://n/orders..paid", "empty token"},
		{"nats://n/orders?stream=x", "takes no query parameters"},
		{"redis://r/0", "needs ?stream="},
		{"redis://r/x?stream=s", "database number"},
		{"redis://r?stream=s&maxlen=0", "maxlen"},
		{"redis://r?stream=s&pool_size=1000", `unknown parameter "pool_size"`},
		{"redis://user@r?stream=s", "needs a password"},
		{"kafka://k", "names the topic"},
		{"kafka://k/bad topic", "a Kafka topic is"},
		{"kafka://u:p@k/t", "need ?sasl=, the SASL mechanism: plain, scram-sha-256, scram-sha-512"},
		{"kafkas://k/t?sasl=plain", "authenticates with the URL's user and password"},
		{"kafka://u@k/t?sasl=plain", "authenticates with the URL's user and password"},
		{"kafka://u:p@k/t?sasl=gssapi", `sasl "gssapi": the SASL mechanism is one of`},
		{"kafka://k/t?key=", "key names"},
	} {
		_, err := ParseEndpointURL(c.raw)
		if !errors.Is(err, ErrEndpointURL) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseEndpointURL(%q) = %v, want an ErrEndpointURL saying %q", c.raw, err, c.says)
		}
	}
}

func TestSecureScheme(t *testing.T) {
	t.Parallel()
	for scheme, want := range map[string]bool{"https": true, "HTTPS": true, "amqps": true, "tls": true, "rediss": true, "kafkas": true,
		"http": false, "amqp": false, "nats": false, "redis": false, "kafka": false, "ftp": false} {
		if got := SecureScheme(scheme); got != want {
			t.Errorf("SecureScheme(%q) = %v", scheme, got)
		}
	}
}

func TestMaskURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://example.com/hook?a=b":                  "https://example.com/hook?a=b",
		"amqp://user:secret@mq:5672/vh?exchange=x":      "amqp://user:****@mq:5672/vh?exchange=x",
		"amqp://user:p%40ss:w@mq/?exchange=x":           "amqp://user:****@mq/?exchange=x",
		"redis://:secret@cache/0?stream=s":              "redis://:****@cache/0?stream=s",
		"redis://cache/0?stream=s&x=a@b":                "redis://cache/0?stream=s&x=a@b",
		"nats://token@n/subject":                        "nats://****@n/subject",
		"tls://user:pw@n/subject":                       "tls://user:****@n/subject",
		"kafkas://hb:pw@k/orders?sasl=plain":            "kafkas://hb:****@k/orders?sasl=plain",
		"amqp://justuser@mq/?exchange=x":                "amqp://justuser@mq/?exchange=x",
		"not a url":                                     "not a url",
		"amqp://u:secret@[::1]:5672/?routingKey=q#frag": "amqp://u:****@[::1]:5672/?routingKey=q#frag",
	} {
		if got := MaskURL(raw); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestUnmaskURL(t *testing.T) {
	t.Parallel()
	const stored = "amqp://user:secret@mq:5672/vh?exchange=x"
	for _, c := range []struct {
		given, want string
		ok          bool
	}{
		{"amqp://user:****@mq:5672/vh?exchange=x", stored, true},
		{"amqp://user:****@mq:5672/other?exchange=y&routingKey=k", "amqp://user:secret@mq:5672/other?exchange=y&routingKey=k", true},
		{"AMQP://user:****@mq:5672/vh?exchange=x", "AMQP://user:secret@mq:5672/vh?exchange=x", true},
		{"amqp://user:new@mq:5672/vh?exchange=x", "amqp://user:new@mq:5672/vh?exchange=x", true},
		{"amqp://user:****@evil.example:5672/vh?exchange=x", "", false},
		{"amqp://other:****@mq:5672/vh?exchange=x", "", false},
		{"amqps://user:****@mq:5672/vh?exchange=x", "", false},
		{"amqp://user:****@mq:5673/vh?exchange=x", "", false},
	} {
		got, err := UnmaskURL(c.given, stored)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("UnmaskURL(%q) = %q, %v; want %q, ok %v", c.given, got, err, c.want, c.ok)
		}
	}
	if _, err := UnmaskURL("amqp://user:****@mq/?exchange=x", ""); err == nil {
		t.Error("a masked password with nothing stored was taken")
	}
	if _, err := UnmaskURL("amqp://user:****@mq/?exchange=x", "amqp://user@mq/?exchange=x"); err == nil {
		t.Error("a masked password was taken for a stored URL without one")
	}
	if got, err := UnmaskURL("nats://****@n/s2", "nats://tok@n/s1"); err != nil || got != "nats://tok@n/s2" {
		t.Errorf("masked NATS token: %q, %v", got, err)
	}
}
