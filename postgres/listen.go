package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reconnection backoff of Listen: from listenRetryMin, doubling, at most
// listenRetryMax. While the listener is down the dispatcher's poll still
// finds due deliveries, only later.
const (
	listenRetryMin = 100 * time.Millisecond
	listenRetryMax = 10 * time.Second
)

// notifyChannel names the NOTIFY channel of the installation in schema.
// Channel names are identifiers (at most 63 bytes), so a long schema name
// is replaced by its hash.
func notifyChannel(schema string) string {
	const prefix = "hookbridge_due."
	if len(prefix)+len(schema) <= 63 {
		return prefix + schema
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	return fmt.Sprintf("%s%016x", prefix, h.Sum64())
}

// Listen calls wake whenever any instance using the same schema commits a
// write that made deliveries due now (see notifyDue), with the endpoints
// the notification names (nil: any), until ctx is done; then it returns
// nil. It holds one connection of its own, outside the
// pool, in LISTEN; if that connection fails it reconnects with backoff,
// and after every (re)connection it calls wake once, since notifications
// sent while it was not listening are lost. wake must not block.
//
// While it listens, the store caches applications, and empties the cache
// on every write to them that any instance notifies (see ApplicationGet);
// while it does not, the cache stays empty, so no change is missed.
func (s *Store) Listen(ctx context.Context, wake func(endpointIDs []string)) error {
	backoff := listenRetryMin
	for {
		err := s.listen(ctx, wake, func() { backoff = listenRetryMin })
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("postgres: wake-up listener disconnected; the poll finds new deliveries meanwhile",
			"err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, listenRetryMax)
	}
}

// listen connects, listens, and calls wake on each notification until the
// connection fails or ctx is done. connected is called once listening.
func (s *Store) listen(ctx context.Context, wake func([]string), connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.cfg.ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.notify}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	s.apps.Enable(true)
	defer s.apps.Enable(false)
	wake(nil)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		if n.Payload == appsChanged {
			s.apps.Invalidate()
			continue
		}
		wake(dueEndpoints(n.Payload))
	}
}
