package storekit

import (
	"fmt"
	"time"

	"github.com/hookbridge/hookbridge"
)

// Health is what the store keeps of an endpoint for the dispatcher (see
// Store.RecordEndpointHealth), as ApplyReport reads and writes it.
type Health struct {
	AppID, UID   string
	Disabled     bool
	FailingSince time.Time // zero: not failing
	PausedUntil  time.Time // zero: not paused
}

// ApplyReport applies one report of the dispatcher to an endpoint's health
// h: a success clears FailingSince, a failure sets it to the report's time
// unless set; a PauseUntil later than the report and than the pause in
// force pauses the endpoint (pause is then that time, else zero: the store
// moves the endpoint's waiting deliveries to it); Gone disables the
// endpoint, and so does a failure while FailingSince <= disableBefore
// (zero: never). It returns the health to store, the pause, and the
// endpoint if the report disabled it.
func ApplyReport(h Health, r hookbridge.EndpointReport, endpointID string, disableBefore time.Time) (next Health, pause time.Time, disabled *hookbridge.DisabledEndpoint) {
	at := TruncMS(r.At)
	if r.Success {
		h.FailingSince = time.Time{}
	} else if h.FailingSince.IsZero() {
		h.FailingSince = at
	}
	if p := TruncMS(r.PauseUntil); p.After(at) && (h.PausedUntil.IsZero() || p.After(h.PausedUntil)) {
		h.PausedUntil, pause = p, p
	}
	if !h.Disabled {
		reason := hookbridge.DisableReason(0)
		switch {
		case r.Gone:
			reason = hookbridge.DisabledGone
		case !r.Success && !h.FailingSince.IsZero() && !disableBefore.IsZero() && !h.FailingSince.After(disableBefore):
			reason = hookbridge.DisabledFailing
		}
		if reason != 0 {
			h.Disabled = true
			disabled = &hookbridge.DisabledEndpoint{AppID: h.AppID, EndpointID: endpointID, EndpointUID: h.UID,
				FailingSince: h.FailingSince, Reason: reason}
		}
	}
	return h, pause, disabled
}

// ApplyReports applies the reports in order with apply, which reads and
// writes one endpoint's health in the driver's transaction (ApplyReport,
// then the disabled endpoint's EventEndpointDisabled), and returns the
// endpoints disabled, each once.
func ApplyReports(reports []hookbridge.EndpointReport, apply func(r hookbridge.EndpointReport) (*hookbridge.DisabledEndpoint, error)) ([]hookbridge.DisabledEndpoint, error) {
	var disabled []hookbridge.DisabledEndpoint
	for _, r := range reports {
		d, err := apply(r)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", r.EndpointID, err)
		}
		if d != nil {
			disabled = append(disabled, *d)
		}
	}
	return disabled, nil
}
