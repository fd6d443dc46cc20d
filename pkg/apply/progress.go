package apply

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Progress prints one line per object, and a spinner with the elapsed time
// while waiting when the output is a terminal (plain lines otherwise).
type Progress struct {
	out io.Writer
	tty bool
	mu  sync.Mutex
}

// NewProgress writes to out; a spinner is shown only when out is a
// terminal and TERM is not dumb. Nothing is coloured, so NO_COLOR holds.
func NewProgress(out io.Writer) *Progress {
	p := &Progress{out: out}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		p.tty = true
	}
	return p
}

// Printf prints a line.
func (p *Progress) Printf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format+"\n", args...)
}

// Object prints `ref outcome`, like kubectl.
func (p *Progress) Object(ref, outcome string, dryRun DryRunMode) {
	if dryRun.On() {
		outcome += " (" + string(dryRun) + " dry run)"
	}
	p.Printf("%s %s", ref, outcome)
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Wait announces "waiting for WHAT" and returns the function that ends
// it, printing "DONE after ELAPSED" on success.
func (p *Progress) Wait(what, done string) func(error) {
	if p == nil {
		return func(error) {}
	}
	start := time.Now()
	if !p.tty {
		p.Printf("waiting for %s", what)
		return func(err error) {
			if err == nil {
				p.Printf("%s after %s", done, since(start))
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			p.mu.Lock()
			fmt.Fprintf(p.out, "\r%s waiting for %s (%s)\033[K", spinner[i%len(spinner)], what, since(start))
			p.mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func(err error) {
		close(stop)
		wg.Wait()
		p.mu.Lock()
		fmt.Fprint(p.out, "\r\033[K")
		p.mu.Unlock()
		if err == nil {
			p.Printf("%s after %s", done, since(start))
		}
	}
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(100 * time.Millisecond)
}
