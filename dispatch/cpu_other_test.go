//go:build !unix

package dispatch_test

import "time"

// processCPU is not available here; the benchmark then reports wall-clock
// throughput only.
func processCPU() (time.Duration, bool) { return 0, false }
