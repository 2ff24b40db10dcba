package dispatch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/hookbridge/hookbridge"
)

// redisTransport appends to a Redis stream: one entry (XADD, trimmed with
// MAXLEN ~ N when the URL asks for it) whose fields are body (the JSON
// payload), webhook-id, webhook-timestamp and webhook-signature. A try
// succeeds when Redis answers with the entry's id. XADD is not
// deduplicated by Redis (7.x): a try whose answer was lost, tried again,
// leaves two entries with the same webhook-id, which the consumer drops as
// it drops any repeated delivery.
//
// One client per server, user and database; the client keeps its own pool
// of connections, at most one per worker, and dials again by itself.
type redisTransport struct {
	pool    *connPool[*redis.Client]
	timeout time.Duration
}

func newRedisTransport(dialer *net.Dialer, timeout time.Duration, workers int) *redisTransport {
	t := &redisTransport{timeout: timeout}
	t.pool = newPool(func(_ context.Context, u *hookbridge.EndpointURL) (*redis.Client, error) {
		return redis.NewClient(redisOptions(dialer, u, timeout, workers)), nil
	}, func(c *redis.Client) { _ = c.Close() }, nil)
	return t
}

// redisOptions are the client's options for u, set here rather than
// parsed from the URL: the client's own URL options (pool sizes, timeouts,
// TLS settings) are not for an endpoint owner to set.
func redisOptions(dialer *net.Dialer, u *hookbridge.EndpointURL, timeout time.Duration, workers int) *redis.Options {
	dial := dialer.DialContext
	if u.TLS {
		cfg := &tls.Config{ServerName: u.Host, MinVersion: tls.VersionTLS12}
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(conn, cfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, err
			}
			return tc, nil
		}
	}
	return &redis.Options{
		Addr:     u.HostPort(),
		Dialer:   dial,
		Username: u.User,
		Password: u.Password,
		DB:       u.DB,
		// RESP2: nothing here needs RESP3, and without it no HELLO or
		// push notifications are negotiated.
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		// No retries inside the client: an XADD tried again after its
		// answer was lost would add a second entry. The dispatcher's
		// retry schedule decides.
		MaxRetries:            -1,
		DialerRetries:         1,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		PoolSize:              workers,
		MaxIdleConns:          min(workers, 8),
		ConnMaxIdleTime:       poolIdle,
	}
}

func (t *redisTransport) send(ctx context.Context, m *outbound) sendResult {
	u := m.url
	client, release, err := t.pool.get(ctx, poolKey(u, strconv.Itoa(u.DB)), u)
	if err != nil {
		return redisFailure(err, u, t.timeout)
	}
	defer release(false)
	args := &redis.XAddArgs{
		Stream: u.Stream,
		Values: []string{
			"body", string(m.body),
			"webhook-id", m.header["webhook-id"],
			"webhook-timestamp", m.header["webhook-timestamp"],
			"webhook-signature", m.header["webhook-signature"],
		},
	}
	if u.MaxLen > 0 {
		args.MaxLen, args.Approx = u.MaxLen, true
	}
	id, err := client.XAdd(ctx, args).Result()
	if err != nil {
		return redisFailure(err, u, t.timeout)
	}
	return sendResult{accepted: true, text: fmt.Sprintf("added to stream %s as entry %s", u.Stream, id)}
}

// redisFailure says why a try got no entry id: Redis answered with an
// error (the key holds another type, the credentials are refused, out of
// memory), said as Redis said it, or the connection failed (said as for
// HTTP).
func redisFailure(err error, u *hookbridge.EndpointURL, timeout time.Duration) sendResult {
	var rerr redis.Error
	switch {
	case errors.As(err, &rerr) && !errors.Is(err, redis.ErrClosed):
		return refusal("Redis refused: "+rerr.Error(), err)
	case errors.Is(err, errStopped), errors.Is(err, redis.ErrClosed):
		return noAnswer(errStopped.Error(), err)
	}
	return noAnswer(failureAt(err, u.Host, u.HostPort(), timeout), err)
}

// LogClientsTo sends what the broker clients log process-wide (go-redis
// reports failed dials on its own, to stderr by default) to logger, at
// debug level: each try's failure is in its attempt already. serve calls
// it once, as it sets the process's other handlers.
func LogClientsTo(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger})
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "dispatch: redis client: "+strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}
