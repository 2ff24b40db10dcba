//go:build !linux

package bench

import "time"

// processCPU is not read here; the bench then counts the server's CPU from
// its start.
func processCPU(int) (time.Duration, bool) { return 0, false }

// treeCPU is not read here; the bench then reports no database CPU.
func treeCPU(int) (time.Duration, bool) { return 0, false }

// processParent is not read here.
func processParent(int) (int, string, bool) { return 0, "", false }
