// Package dispatch is Hookbridge's delivery engine: it claims due deliveries
// from the store, sends each to its endpoint — a signed HTTP POST, or a
// signed message published to a broker (RabbitMQ, NATS JetStream, a Redis
// stream, Kafka), as the endpoint URL's scheme says — records every
// attempt, and either finishes the delivery or schedules its next try.
//
// # Pipeline
//
// A running Dispatcher is a fixed set of goroutines, all owned by Run:
//
//	store fan-out ──Handoff──┐
//	                         ▼
//	claimer ──work queue──▶ workers (Config.Workers) ──outcomes──▶ recorder
//	   ▲                                                                │
//	   └── Wake, poll, next due                 RecordAttempts, ReleaseDeliveries,
//	                                            RenewLeases (batched)
//
// Each part has one job:
//
//   - A new message's deliveries come straight from the store when it
//     supports it (hookbridge.HandoffStore): the transaction that creates
//     them writes them leased to this dispatcher, and after the commit they
//     join the work queue (Dispatcher implements hookbridge.Handoff; see
//     handoff.go). No claim query, no wait for the claimer. Deliveries the
//     handoff refuses (no room, or a FIFO, rate-limited or paused endpoint)
//     are claimed as usual.
//   - The claimer leases up to BatchSize due deliveries per query
//     (Store.ClaimDeliveries) and queues them: retries, deliveries left to
//     the claim, and those of other instances that died. It keeps at most
//     Workers+BatchSize deliveries claimed and unsent, and claims again once
//     half a batch of room is free, so workers never wait for a query and
//     nothing sits leased for long behind slow receivers. The handoff
//     leaves it at least half a batch of that room.
//   - Each worker takes one claim at a time and makes one try: body =
//     the payload exactly as stored, headers webhook-id, webhook-timestamp
//     and webhook-signature (package webhook, every live secret of the
//     endpoint signing during a rotation), the endpoint's own headers except
//     those the dispatcher sets. All workers share one keep-alive
//     http.Transport; a response is read into a fixed 4 KiB buffer (the
//     excerpt kept with the attempt) and the rest drained, within bounds, so
//     the connection is reused. No goroutine is started per delivery.
//     An endpoint whose URL names a broker gets the same body and headers
//     as a message, through that broker's transport (transport.go), whose
//     connections are kept per broker and closed when Run ends.
//   - The recorder is the only goroutine that writes results: it gathers the
//     workers' outcomes and writes each batch in one transaction (group
//     commit), at once when nothing else is in flight, otherwise after
//     FlushLinger or when the batch is full.
//
// # Outcomes
//
// A 2xx is success, and so is a broker's acknowledgement (a publisher
// confirm, a JetStream ack, a stream entry id, a Kafka offset). Anything
// else — another status (a redirect included: redirects are never
// followed), a broker's refusal, a timeout, a refused connection, a blocked
// address — is a failed attempt. A failed scheduled delivery is tried again
// at the time the RetryPolicy gives (by default the Svix schedule, jittered,
// Retry-After honoured on 429 and 503) until the policy gives up; a failed
// manual delivery (resend, recover) is final at once. A delivery whose
// endpoint was disabled, or whose content was expunged, is given up without
// an attempt: every Attempt row is one real try.
//
// Every connection is dialled through netguard's Control function, on the
// address actually dialled, and with no proxy, so deliveries never reach a
// blocked address whatever the DNS answers; the broker clients dial through
// the same dialer. With an egress proxy (Config.Proxy), which carries HTTP,
// broker deliveries are refused rather than dialled around it.
//
// # Manners
//
// One receiver must not hurt the others, and a receiver that asks for less
// gets less (fairness.go, slots.go): at most Config.EndpointConcurrency requests per
// endpoint in flight in this instance (the rest of its claims park without a
// worker, or go back to the store); a 429 or 503 with Retry-After pauses the
// whole endpoint, on every instance; a 410 Gone disables it, as does failing
// continuously for Config.DisableAfter. Rate limits and FIFO ordering are
// kept by the store's claim, so instances share them. What changes an
// endpoint's health is written with the batch of results it came with.
// Operational events (endpoint.disabled, message.attempt.exhausted,
// message.attempt.failing, message.attempt.recovered) are recorded by the
// store in the transaction of the result or disabling they report, so they
// are as durable as it; Config.EventsRecorded hears of them, and package
// operational turns them into webhooks.
//
// # Leases
//
// A claim is a lease (owner, until) on the delivery. Only the owner can record
// its result, so an instance that stalled past its lease cannot overwrite the
// work of the one that took over; such rejected results are logged and
// dropped. The recorder renews, every quarter lease, the leases that would end
// within half a lease, so deliveries waiting in the queue or in flight keep
// them; a worker that finds a lease already lost (renewals failing) releases
// the delivery instead of sending it. The lease must exceed the request
// timeout. An instance that dies leaves its leases to expire; the deliveries
// are then claimed by another instance (at least once, never lost).
//
// # Wake-ups
//
// Wake is the one way to say "something may be due now": the API calls it
// after accepting a message, a resend or a recovery, and a database
// notification (PostgreSQL LISTEN/NOTIFY) can call it for other instances.
// It never blocks and merges bursts into one pending wake-up, which is kept
// until the claimer next looks, so a wake-up that arrives during a claim
// query is not lost. Without wake-ups the claimer sleeps until the next
// delivery is due (Store.NextDue), at most PollInterval.
//
// # Shutdown
//
// When Run's context is done: the claimer stops claiming; workers release the
// claims still queued instead of sending them; requests in flight get
// DrainTimeout to finish, after which they are cancelled and their deliveries
// released (a cancelled request is not the receiver's failure and costs it no
// try); the broker connections are closed; the recorder writes the
// remaining results and releases; idle connections are closed; Run
// returns. Released deliveries can be claimed
// again at once, by this process after a restart or by another instance.
package dispatch
