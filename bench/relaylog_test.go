package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// TestRelayLog: every record a caller was told is on disk is in the file,
// whole, when append returns; records queued without waiting are written
// by close; and nothing is taken after close.
func TestRelayLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := openRelayLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "relay.log")
	const writers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				rec := fmt.Sprintf("m%d-%d", w, i)
				if err := l.append([]byte(rec)); err != nil {
					errs <- err
					return
				}
				// Synced: already in the file, whatever else is queued.
				data, err := os.ReadFile(path)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Contains(data, []byte(rec+"\n")) {
					errs <- fmt.Errorf("%s: append returned before it was written", rec)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Records nobody waits for (a delivery's end) are written by close.
	for i := range 10 {
		l.add([]byte("done"), []byte(fmt.Sprint(i)))
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if err := l.append([]byte("late")); !errors.Is(err, errLogClosed) {
		t.Errorf("append after close: %v, want errLogClosed", err)
	}
	l.add([]byte("late end")) // dropped, not written and not a panic
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	want := make([]string, 0, writers*each+10)
	for w := range writers {
		for i := range each {
			want = append(want, fmt.Sprintf("m%d-%d", w, i))
		}
	}
	for i := range 10 {
		want = append(want, fmt.Sprintf("done%d", i))
	}
	got := make([]string, len(lines))
	for i, line := range lines {
		got[i] = string(line)
	}
	sort.Strings(got)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the log holds %d records, want %d, each once and whole", len(got), len(want))
	}
}
