package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/hookbridge/hookbridge"
	"github.com/hookbridge/hookbridge/postgres/pgtest"
	"github.com/hookbridge/hookbridge/storetest"
)

// BenchmarkCreateMessage measures ingest: one message and its delivery per
// transaction, from one goroutine and from many (PostgreSQL commits
// concurrent transactions together).
func BenchmarkCreateMessage(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			s := openDSN(b, pgtest.Schema(b), WithMaxConns(32))
			app := storetest.BenchApp(b, s)
			ctx := context.Background()
			create := func() {
				m := &hookbridge.Message{AppID: app.ID, EventType: "payment.captured", Payload: storetest.BenchPayload}
				if _, _, err := s.CreateMessage(ctx, m); err != nil {
					b.Error(err)
				}
			}
			if parallel {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						create()
					}
				})
			} else {
				for b.Loop() {
					create()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkClaimAndRecord measures the dispatcher's side: claim a batch of
// 100 due deliveries, then record a successful attempt for each.
func BenchmarkClaimAndRecord(b *testing.B) {
	const batch = 100
	s := openDSN(b, pgtest.Schema(b))
	app := storetest.BenchApp(b, s)
	ctx := context.Background()
	created := time.Now()
	msgs := make([]*hookbridge.Message, batch)
	now := created.Add(time.Second)
	results := make([]hookbridge.AttemptResult, 0, batch)
	for b.Loop() {
		b.StopTimer()
		for i := range msgs {
			msgs[i] = &hookbridge.Message{AppID: app.ID, EventType: "payment.captured", Payload: storetest.BenchPayload, CreatedAt: created}
		}
		if _, err := s.CreateMessages(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		results = storetest.BenchClaimRecord(b, s, now, batch, results)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
}
