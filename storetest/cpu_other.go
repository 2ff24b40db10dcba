//go:build !unix

package storetest

import "time"

// ProcessCPU is not available here: benchmarks then report wall-clock
// throughput only.
func ProcessCPU() (time.Duration, bool) { return 0, false }
