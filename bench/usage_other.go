//go:build !unix

package bench

import (
	"os"
	"time"
)

// stopProcess ends a `hookbridge serve` child. Without Unix signals there is
// no graceful way to ask; accepted messages are durable either way.
func stopProcess(p *os.Process) error { return p.Kill() }

// childPeakRSS is not reported here; the bench then leaves it out.
func childPeakRSS(*os.ProcessState) (int64, bool) { return 0, false }

// selfUsage is not reported here; the bench then leaves it out.
func selfUsage() (int64, time.Duration, bool) { return 0, 0, false }
