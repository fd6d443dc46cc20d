package tui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// runProgram runs the real bubbletea program at w×h with a fixed colour
// profile, feeds it the snapshots, waits until the terminal output shows
// waitFor, quits with q and returns the final model.
func runProgram(t *testing.T, w, h int, waitFor string, snaps ...watch.Snapshot) *Model {
	t.Helper()
	tm := teatest.NewTestModel(t, New(), teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	for _, s := range snaps {
		tm.Send(SnapshotMsg{Snapshot: s})
	}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(waitFor)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	m, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Model)
	if !ok {
		t.Fatal("final model is not *tui.Model")
	}
	return m
}

// The README's captured screen is testdata/TestGoldenScaleUp120x40.golden.
func TestGoldenScaleUp120x40(t *testing.T) {
	m := runProgram(t, 120, 40, "SuccessfulRescale", scaleUp(5), scaleUp(30), scaleUp(60))
	golden.RequireEqual(t, ansi.Strip(m.Render()))
}

func TestGoldenFailingMetric80x24(t *testing.T) {
	m := runProgram(t, 80, 24, "FailedGetPodsMetric", failingMetric())
	golden.RequireEqual(t, ansi.Strip(m.Render()))
}

// With the 16-colour ANSI profile the styling itself is pinned: the focus
// border, the red 403 line, the yellow/red warning marks.
func TestGoldenFailingMetricANSI80x24(t *testing.T) {
	m := runProgram(t, 80, 24, "FailedGetPodsMetric", failingMetric())
	press(m, "tab", "tab", "tab", "tab")
	var b strings.Builder
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.ANSI}
	_, _ = w.Write([]byte(m.Render()))
	golden.RequireEqual(t, b.String()) // escapes the sequences in the diff
}
