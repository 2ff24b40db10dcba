//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// stopProcess asks a `hookbridge serve` child to shut down gracefully.
func stopProcess(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// childPeakRSS returns the peak resident set size of an exited child, in
// bytes, and true where the platform reports it.
func childPeakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return maxRSSBytes(ru.Maxrss), true
}

// selfUsage returns this process's peak RSS in bytes and the CPU time it
// has used so far, and true where the platform reports them.
func selfUsage() (peakRSS int64, cpu time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, false
	}
	return maxRSSBytes(ru.Maxrss), time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// maxRSSBytes converts ru_maxrss to bytes: macOS and iOS report bytes,
// the other Unix systems kilobytes.
func maxRSSBytes(v int64) int64 {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return v
	}
	return v * 1024
}
