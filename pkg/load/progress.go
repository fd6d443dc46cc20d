package load

import (
	"fmt"
	"io"
	"time"
)

// ProgressPrinter shows a run's progress: on a terminal one line that
// refreshes every tick; otherwise a plain line every Every.
type ProgressPrinter struct {
	W        io.Writer
	Terminal bool
	// Every is the period of plain lines (default 10s).
	Every time.Duration

	acc     Progress
	printed time.Duration
	live    bool
}

// Tick takes one progress window.
func (p *ProgressPrinter) Tick(g Progress) {
	if p.Terminal {
		fmt.Fprintf(p.W, "\r\x1b[K%s", line(g))
		p.live = true
		return
	}
	every := p.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	// Accumulate the windows between two plain lines.
	a := &p.acc
	a.Window += g.Window
	a.Done += g.Done
	a.Errors += g.Errors
	a.Tokens += g.Tokens
	a.Elapsed, a.Stage, a.StageName, a.StageLeft, a.InFlight = g.Elapsed, g.Stage, g.StageName, g.StageLeft, g.InFlight
	a.TTFTP50, a.TTFTP90, a.Total, a.TotalErrors = g.TTFTP50, g.TTFTP90, g.Total, g.TotalErrors
	if g.Elapsed-p.printed >= every {
		fmt.Fprintf(p.W, "%s %s\n", time.Now().UTC().Format("15:04:05"), line(*a))
		p.printed = g.Elapsed
		p.acc = Progress{}
	}
}

// Done ends the live line.
func (p *ProgressPrinter) Done() {
	if p.live {
		fmt.Fprint(p.W, "\r\x1b[K")
	}
}

func line(g Progress) string {
	stage := "draining"
	if g.Stage >= 0 {
		stage = fmt.Sprintf("stage %d %s (%s left)", g.Stage+1, g.StageName, g.StageLeft.Round(time.Second))
	}
	ttft := "-"
	if g.TTFTP50 > 0 {
		ttft = Short(g.TTFTP50) + "/" + Short(g.TTFTP90)
	}
	return fmt.Sprintf("%s  in-flight %d  %.1f req/s  %.0f tok/s  TTFT p50/p90 %s  done %d  errors %d",
		stage, g.InFlight, g.RequestRate(), g.TokenRate(), ttft, g.Total, g.TotalErrors)
}
