//go:build linux

package bench

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// clockTicks is the unit of the CPU times in /proc/<pid>/stat (USER_HZ),
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// processCPU returns the CPU time (user and system) that the running
// process pid has used so far, from /proc/<pid>/stat, in steps of 10 ms.
func processCPU(pid int) (time.Duration, bool) {
	_, f, ok := readStat(pid)
	if !ok {
		return 0, false
	}
	return statTimes(f, false)
}

// treeCPU returns the CPU time that process pid and its children have used
// so far: its own, what its children that exited and were waited for used
// (cutime and cstime), and what its running children have used with
// theirs. For PostgreSQL's postmaster that is the whole database server:
// the backends of every connection, those closed included, and its
// background processes.
func treeCPU(pid int) (time.Duration, bool) {
	_, f, ok := readStat(pid)
	if !ok {
		return 0, false
	}
	total, ok := statTimes(f, true)
	if !ok {
		return 0, false
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil || child == pid {
			continue
		}
		// A child gone meanwhile is left out: its time is in pid's
		// cutime, or soon will be.
		if _, f, ok := readStat(child); ok && statPPID(f) == pid {
			t, _ := statTimes(f, true)
			total += t
		}
	}
	return total, true
}

// processParent returns pid's parent and pid's command name.
func processParent(pid int) (ppid int, comm string, ok bool) {
	comm, f, ok := readStat(pid)
	if !ok {
		return 0, "", false
	}
	return statPPID(f), comm, true
}

// readStat reads /proc/<pid>/stat: the command name (field 2, in
// parentheses, which may hold spaces and parentheses) and the fields
// after it, f[0] being field 3 (state).
func readStat(pid int) (comm string, f [][]byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", nil, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", nil, false
	}
	f = bytes.Fields(b[end+1:])
	return string(b[open+1 : end]), f, len(f) >= 15
}

// statPPID is the parent's pid (field 4) of readStat's fields, 0 if unreadable.
func statPPID(f [][]byte) int {
	ppid, _ := strconv.Atoi(string(f[1]))
	return ppid
}

// statTimes sums utime and stime (fields 14 and 15) of readStat's fields,
// with the waited-for children's cutime and cstime (16 and 17) if
// children.
func statTimes(f [][]byte, children bool) (time.Duration, bool) {
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, s := range f[11 : last+1] {
		n, err := strconv.ParseInt(string(s), 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, true
}
