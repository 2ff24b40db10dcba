package hookbridge

import "time"

// EndpointReport is what the dispatcher learnt about an endpoint from one
// attempt, for Store.RecordEndpointHealth. The dispatcher sends one only
// when it changes something: a success after failures, the first failure
// of a run, a pause, a 410, or a failure past the disable threshold.
type EndpointReport struct {
	EndpointID string
	At         time.Time // when the attempt was made
	// Success ends a run of failures (FailingSince is cleared); otherwise
	// the attempt failed, and a run of failures starts at At unless one
	// is already running.
	Success bool
	// PauseUntil, when later than At, pauses the endpoint: no delivery to
	// it is claimed before then, on any instance.
	PauseUntil time.Time
	// Gone disables the endpoint now (the receiver answered 410 Gone).
	Gone bool
}

// DisableReason says why the dispatcher disabled an endpoint.
type DisableReason int

const (
	DisabledGone    DisableReason = iota + 1 // the receiver answered 410 Gone
	DisabledFailing                          // it failed continuously for the disable period
)

// DisabledEndpoint is an endpoint that Store.RecordEndpointHealth disabled.
// Each disabling is reported once, by the call that made it, whichever
// instance made it.
type DisabledEndpoint struct {
	AppID        string
	EndpointID   string
	EndpointUID  string
	FailingSince time.Time // the start of the run of failures; zero if none was running
	Reason       DisableReason
}
