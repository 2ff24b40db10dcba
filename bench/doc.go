// Package bench measures end-to-end webhook throughput and latency on this
// machine: it is the engine of `hookbridge bench`.
//
// A run starts a receiver on loopback (receiver.go) that answers 200 and
// records when each webhook-id arrives at each endpoint, and the server
// under test (server.go): `hookbridge serve` as a child process, a server
// inside this process started by the Config's Serve function, or one
// already running. A load client (client.go) creates applications and
// endpoints through the API and sends the messages (load.go); the run then
// waits until every accepted message has arrived everywhere it is owed, and
// matches arrivals against what was accepted into a Report (report.go):
// rates, latency percentiles, lost and duplicate deliveries, the server's
// peak RSS and CPU time. For reference it can measure the same load client
// straight against the receiver (the baseline) and through a store-less
// relay (relay.go).
//
// Everything runs on loopback: the load client and the relay refuse to
// dial anything else.
package bench
