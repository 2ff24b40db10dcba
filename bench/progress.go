package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar on stderr when it is a terminal.
type progress struct {
	w io.Writer // nil when disabled
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	if !ok {
		return &progress{}
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return &progress{}
	}
	return &progress{w: w}
}

// show redraws the bar for a phase every 100 ms until the returned function
// is called, which draws it a last time and ends the line.
func (p *progress) show(label string, total int64, done func() int64, extra func() string) (stop func()) {
	if p.w == nil || total <= 0 {
		return func() {}
	}
	const width = 30
	draw := func() {
		n := min(done(), total)
		fill := int(int64(width) * n / total)
		line := fmt.Sprintf("\r%-9s [%s%s] %d/%d", label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), n, total)
		if extra != nil {
			line += "  " + extra()
		}
		fmt.Fprintf(p.w, "%s\033[K", line)
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				draw()
				fmt.Fprintln(p.w)
				return
			case <-tick.C:
				draw()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-finished
		})
	}
}
