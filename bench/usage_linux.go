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
func processCPU(pid int) (time.Duration, bool) { return statTimes(pid, false) }

// treeCPU returns the CPU time that process pid and its children have used
// so far: its own, what its children that exited and were waited for used
// (cutime and cstime), and what its running children have used with
// theirs. For PostgreSQL's postmaster that is the whole database server:
// the backends of every connection, those closed included, and its
// background processes.
func treeCPU(pid int) (time.Duration, bool) {
	own, ok := statTimes(pid, true)
	if !ok {
		return 0, false
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	total := own
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil || child == pid {
			continue
		}
		if parent, _, ok := processParent(child); ok && parent == pid {
			t, _ := statTimes(child, true) // gone meanwhile: its time is in pid's cutime, or soon will be
			total += t
		}
	}
	return total, true
}

// statFields returns the fields of /proc/<pid>/stat after the command name:
// f[0] is field 3 (state).
func statFields(pid int) ([][]byte, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	f := bytes.Fields(b[i+1:])
	return f, len(f) >= 15
}

// statTimes returns pid's utime and stime (fields 14 and 15), with its
// waited-for children's cutime and cstime (16 and 17) if children.
func statTimes(pid int, children bool) (time.Duration, bool) {
	f, ok := statFields(pid)
	if !ok {
		return 0, false
	}
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

// processParent returns pid's parent and pid's command name (field 2,
// as /proc/<pid>/comm has it).
func processParent(pid int) (ppid int, comm string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return 0, "", false
	}
	f := bytes.Fields(b[end+1:])
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(string(f[1]))
	return ppid, string(b[open+1 : end]), err == nil
}
