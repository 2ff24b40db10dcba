package hookbridge

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Transport is how an endpoint's messages travel, chosen by the scheme of
// its URL: an HTTP POST, or a message published to a queue or event bus.
// Every transport carries the same signed content (the JSON body and the
// Standard Webhooks headers) and goes through the same retries, attempt
// log, rate limit, FIFO and health rules.
type Transport string

// The transports, and the URL schemes that choose them.
const (
	TransportHTTP  Transport = "http"  // http://, https://
	TransportAMQP  Transport = "amqp"  // amqp://, amqps://: RabbitMQ with publisher confirms
	TransportNATS  Transport = "nats"  // nats://, tls://: NATS JetStream
	TransportRedis Transport = "redis" // redis://, rediss://: a Redis stream
	TransportKafka Transport = "kafka" // kafka://, kafkas://: a Kafka topic
)

// EndpointSchemes lists the URL schemes an endpoint may have, for messages
// that say which are accepted.
const EndpointSchemes = "http, https, amqp, amqps, nats, tls (NATS over TLS), redis, rediss, kafka or kafkas"

// schemes maps each URL scheme to its transport, whether it is encrypted,
// and the port it means when the URL names none.
var schemes = map[string]struct {
	transport Transport
	tls       bool
	port      string
}{
	"http":   {TransportHTTP, false, "80"},
	"https":  {TransportHTTP, true, "443"},
	"amqp":   {TransportAMQP, false, "5672"},
	"amqps":  {TransportAMQP, true, "5671"},
	"nats":   {TransportNATS, false, "4222"},
	"tls":    {TransportNATS, true, "4222"},
	"redis":  {TransportRedis, false, "6379"},
	"rediss": {TransportRedis, true, "6379"},
	"kafka":  {TransportKafka, false, "9092"},
	"kafkas": {TransportKafka, true, "9093"},
}

// SecureScheme reports whether an endpoint URL scheme is an encrypted one:
// https, or a broker's TLS scheme (amqps, tls for NATS, rediss, kafkas).
func SecureScheme(scheme string) bool {
	s, ok := schemes[strings.ToLower(scheme)]
	return ok && s.tls
}

// EndpointURL is an endpoint URL taken apart for its transport. Only the
// fields of its transport are set.
type EndpointURL struct {
	Transport Transport
	Scheme    string // lower-case
	TLS       bool   // the scheme is the transport's encrypted one
	Host      string // as in the URL: a name or a literal address, without brackets
	Port      string // the URL's, or the scheme's default

	// Credentials, for brokers (an HTTP URL may not carry any).
	User, Password string
	HasPassword    bool

	// AMQP: the virtual host and where a message is published.
	VHost, Exchange, RoutingKey string
	// NATS: the subject a message is published to, which a JetStream
	// stream must take.
	Subject string
	// Redis: the database, the stream, and its approximate cap (0: none).
	DB     int
	Stream string
	MaxLen int64
	// Kafka: the topic, and the payload field whose value is the record key
	// ("" means the message id).
	Topic, KeyField string
	// SASL is the Kafka SASL mechanism User and Password authenticate
	// with (one of KafkaSASLMechanisms), "" for none.
	SASL string
}

// KafkaSASLMechanisms are the SASL mechanisms a Kafka URL's ?sasl= may
// name (in any case), as Kafka names them.
var KafkaSASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// HostPort is the address the URL names, host:port.
func (u *EndpointURL) HostPort() string { return net.JoinHostPort(u.Host, u.Port) }

// Destination names where a broker transport puts a message (the exchange
// and routing key, subject, stream or topic), for attempt texts and traces.
func (u *EndpointURL) Destination() string {
	switch u.Transport {
	case TransportAMQP:
		return u.Exchange + "/" + u.RoutingKey
	case TransportNATS:
		return u.Subject
	case TransportRedis:
		return u.Stream
	case TransportKafka:
		return u.Topic
	}
	return ""
}

// ErrEndpointURL is wrapped by ParseEndpointURL's errors.
var ErrEndpointURL = errors.New("invalid URL")

// ParseEndpointURL checks the syntax of an endpoint URL and takes it apart
// for its transport. What an address may be (the SSRF guard) and whether
// plain text is allowed (--https-only) are netguard's to judge.
//
// Broker URLs:
//
//	amqp[s]://[user:password@]host[:port][/vhost]?exchange=E&routingKey=K
//	nats://[user:password@|token@]host[:port]/SUBJECT   (tls:// for NATS over TLS)
//	redis[s]://[[user]:password@]host[:port][/DB]?stream=NAME[&maxlen=N]
//	kafka[s]://[user:password@]host[:port]/TOPIC[?key=FIELD][&sasl=MECHANISM]
//
// Each takes only the query parameters shown: a client library's own URL
// options (certificate files, timeouts, pool sizes) are not for an endpoint
// owner to set.
func ParseEndpointURL(raw string) (*EndpointURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEndpointURL, errors.Unwrap(err))
	}
	scheme := strings.ToLower(u.Scheme)
	s, ok := schemes[scheme]
	if !ok {
		return nil, fmt.Errorf("%w: the scheme must be %s", ErrEndpointURL, EndpointSchemes)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%w: want %s://host…", ErrEndpointURL, scheme)
	}
	e := &EndpointURL{Transport: s.transport, Scheme: scheme, TLS: s.tls, Host: u.Hostname(), Port: u.Port()}
	if e.Host == "" {
		return nil, fmt.Errorf("%w: missing host", ErrEndpointURL)
	}
	if e.Port == "" {
		e.Port = s.port
	}
	if e.Transport == TransportHTTP {
		if u.User != nil {
			return nil, fmt.Errorf("%w: credentials in the URL are not supported; use endpoint headers", ErrEndpointURL)
		}
		return e, nil
	}

	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: a %s URL takes no fragment (#…)", ErrEndpointURL, scheme)
	}
	if u.User != nil {
		e.User = u.User.Username()
		e.Password, e.HasPassword = u.User.Password()
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: query: %v", ErrEndpointURL, err)
	}
	path := u.Path // decoded
	switch e.Transport {
	case TransportAMQP:
		err = e.parseAMQP(u, query)
	case TransportNATS:
		err = e.parseNATS(path, query)
	case TransportRedis:
		err = e.parseRedis(path, query)
	case TransportKafka:
		err = e.parseKafka(path, query)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEndpointURL, err)
	}
	return e, nil
}

// onlyParams refuses query parameters other than allowed, and repeated ones.
func onlyParams(scheme string, query url.Values, allowed ...string) error {
	for k, v := range query {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return fmt.Errorf("a %s URL takes no query parameters, got %q", scheme, k)
			}
			return fmt.Errorf("unknown parameter %q; a %s URL takes %s", k, scheme, strings.Join(allowed, ", "))
		}
		if len(v) > 1 {
			return fmt.Errorf("parameter %q is given %d times", k, len(v))
		}
	}
	return nil
}

// maxShortString is the longest AMQP short string: exchange and routing key.
const maxShortString = 255

func (e *EndpointURL) parseAMQP(u *url.URL, query url.Values) error {
	if err := onlyParams(e.Scheme, query, "exchange", "routingKey"); err != nil {
		return err
	}
	// The vhost is the one path segment, escaped (%2F for a slash); no
	// path (or "/") is the default vhost "/", as amqp091-go reads it.
	e.VHost = "/"
	if raw := u.EscapedPath(); raw != "" && raw != "/" {
		seg := strings.TrimPrefix(raw, "/")
		if strings.Contains(seg, "/") {
			return errors.New("the path is the virtual host, one segment (write a slash in it as %2F)")
		}
		vhost, err := url.PathUnescape(seg)
		if err != nil {
			return fmt.Errorf("virtual host: %v", err)
		}
		e.VHost = vhost
	}
	e.Exchange, e.RoutingKey = query.Get("exchange"), query.Get("routingKey")
	switch {
	case e.Exchange == "" && e.RoutingKey == "":
		return errors.New("an amqp URL needs ?exchange= or ?routingKey= (the queue's name, for the default exchange)")
	case len(e.Exchange) > maxShortString || len(e.RoutingKey) > maxShortString:
		return fmt.Errorf("exchange and routingKey must be at most %d bytes", maxShortString)
	}
	return nil
}

func (e *EndpointURL) parseNATS(path string, query url.Values) error {
	if err := onlyParams(e.Scheme, query); err != nil {
		return err
	}
	e.Subject = strings.TrimPrefix(path, "/")
	if e.Subject == "" {
		return errors.New("a nats URL names the subject to publish to as its path: nats://host:4222/orders.created")
	}
	if strings.ContainsAny(e.Subject, " \t\r\n*>/") {
		return fmt.Errorf("subject %q: a subject to publish to has no spaces, slashes or wildcards (* >)", e.Subject)
	}
	if slices.Contains(strings.Split(e.Subject, "."), "") {
		return fmt.Errorf("subject %q has an empty token", e.Subject)
	}
	if e.User != "" && e.HasPassword && e.Password == "" {
		return errors.New("a nats URL's user needs a password")
	}
	return nil
}

func (e *EndpointURL) parseRedis(path string, query url.Values) error {
	if err := onlyParams(e.Scheme, query, "stream", "maxlen"); err != nil {
		return err
	}
	if db := strings.TrimPrefix(path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return fmt.Errorf("the path is the database number, got %q", db)
		}
		e.DB = n
	}
	e.Stream = query.Get("stream")
	if e.Stream == "" {
		return errors.New("a redis URL needs ?stream= (the stream's key)")
	}
	if m := query.Get("maxlen"); m != "" {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n < 1 {
			return fmt.Errorf("maxlen must be a whole number of entries, at least 1, got %q", m)
		}
		e.MaxLen = n
	}
	if e.User != "" && !e.HasPassword {
		return errors.New("a redis URL's user needs a password (redis://user:password@host, or redis://:password@host)")
	}
	return nil
}

func (e *EndpointURL) parseKafka(path string, query url.Values) error {
	if err := onlyParams(e.Scheme, query, "key", "sasl"); err != nil {
		return err
	}
	mechanisms := strings.ToLower(strings.Join(KafkaSASLMechanisms, ", "))
	_, hasSASL := query["sasl"]
	switch {
	case hasSASL:
		i := slices.IndexFunc(KafkaSASLMechanisms, func(m string) bool { return strings.EqualFold(m, query.Get("sasl")) })
		if i < 0 {
			return fmt.Errorf("sasl %q: the SASL mechanism is one of %s", query.Get("sasl"), mechanisms)
		}
		e.SASL = KafkaSASLMechanisms[i]
		if e.User == "" || !e.HasPassword || e.Password == "" {
			return fmt.Errorf("sasl=%s authenticates with the URL's user and password: %s://user:password@host/TOPIC?sasl=%s",
				query.Get("sasl"), e.Scheme, query.Get("sasl"))
		}
	case e.User != "" || e.HasPassword:
		return fmt.Errorf("a kafka URL's user and password need ?sasl=, the SASL mechanism: %s", mechanisms)
	}
	e.Topic = strings.TrimPrefix(path, "/")
	if e.Topic == "" {
		return errors.New("a kafka URL names the topic as its path: kafka://host:9092/orders")
	}
	if len(e.Topic) > 249 || e.Topic == "." || e.Topic == ".." || strings.IndexFunc(e.Topic, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return fmt.Errorf("topic %q: a Kafka topic is 1 to 249 of a-z A-Z 0-9 . _ -", e.Topic)
	}
	if _, ok := query["key"]; ok {
		if e.KeyField = query.Get("key"); e.KeyField == "" {
			return errors.New("key names a top-level field of the payload; leave it out to key by message id")
		}
	}
	return nil
}

// URLMask stands in for the password of an endpoint URL (and for a NATS
// token) wherever the URL is shown.
const URLMask = "****"

// MaskURL returns raw with the password of its user, if any, replaced by
// URLMask, and so a NATS token (nats://token@host). Everything else is
// kept as written; a URL without credentials comes back unchanged.
func MaskURL(raw string) string {
	a, ok := splitAuthority(raw)
	if !ok || a.at < 0 {
		return raw
	}
	userinfo := raw[a.start:a.at]
	user, _, hasPassword := strings.Cut(userinfo, ":")
	switch {
	case hasPassword:
		userinfo = user + ":" + URLMask
	case isTokenScheme(raw[:a.schemeEnd]) && user != "":
		userinfo = URLMask
	default:
		return raw
	}
	return raw[:a.start] + userinfo + raw[a.at:]
}

// URLUserinfo splits raw around the userinfo of its authority
// (scheme://userinfo@host…), where a broker URL carries its credentials,
// as MaskURL finds it; ok is false when raw has none. scheme is the
// URL's, as written.
func URLUserinfo(raw string) (before, userinfo, after, scheme string, ok bool) {
	a, ok := splitAuthority(raw)
	if !ok || a.at < 0 {
		return "", "", "", "", false
	}
	return raw[:a.start], raw[a.start:a.at], raw[a.at:], raw[:a.schemeEnd], true
}

// IsTokenScheme reports whether a URL of scheme carries a token as its
// user, without a password (NATS: nats://token@host).
func IsTokenScheme(scheme string) bool { return isTokenScheme(scheme) }

// UnmaskURL is for an update that sends back an endpoint URL as it was
// shown, its password masked: it returns given with the stored URL's
// credentials in place of the mask. The scheme, user and host must be the
// stored ones, so that a mask never sends the stored password to another
// host; otherwise (or with no stored URL) it fails, asking for the password.
// A given URL without the mask is returned as it is.
func UnmaskURL(given, stored string) (string, error) {
	if !HasMaskedCredentials(given) {
		return given, nil
	}
	g, _ := splitAuthority(given)
	s, ok := splitAuthority(stored)
	masked := MaskURL(stored)
	m, _ := splitAuthority(masked)
	if stored == "" || !ok || !HasMaskedCredentials(masked) ||
		!strings.EqualFold(given[:g.schemeEnd], masked[:m.schemeEnd]) || given[g.start:g.end] != masked[m.start:m.end] {
		return "", errors.New("the password " + URLMask + " is the mask shown in its place: send the real password " +
			"(the stored one is kept only for the same scheme, user and host)")
	}
	return given[:g.start] + stored[s.start:s.end] + given[g.end:], nil
}

// HasMaskedCredentials reports whether raw carries URLMask as its password
// (or NATS token).
func HasMaskedCredentials(raw string) bool {
	a, ok := splitAuthority(raw)
	if !ok || a.at < 0 {
		return false
	}
	user, password, hasPassword := strings.Cut(raw[a.start:a.at], ":")
	if hasPassword {
		return password == URLMask
	}
	return isTokenScheme(raw[:a.schemeEnd]) && user == URLMask
}

func isTokenScheme(scheme string) bool {
	return strings.EqualFold(scheme, "nats") || strings.EqualFold(scheme, "tls")
}

// authority locates the parts of scheme://[userinfo@]host… in a URL, as
// url.Parse splits them: the authority ends at the first / ? or #, and the
// userinfo at its last @.
type authority struct {
	schemeEnd  int // the scheme is raw[:schemeEnd]
	start, end int // the authority is raw[start:end]
	at         int // the index of the @ ending the userinfo, -1 without one
}

func splitAuthority(raw string) (authority, bool) {
	i := strings.Index(raw, "://")
	if i <= 0 {
		return authority{}, false
	}
	a := authority{schemeEnd: i, start: i + 3, end: len(raw), at: -1}
	if j := strings.IndexAny(raw[a.start:], "/?#"); j >= 0 {
		a.end = a.start + j
	}
	if j := strings.LastIndex(raw[a.start:a.end], "@"); j >= 0 {
		a.at = a.start + j
	}
	return a, true
}
