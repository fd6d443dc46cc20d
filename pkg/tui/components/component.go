// Package components holds what the watch screen's panels share: the
// Component interface the root model routes to, and small formatting helpers.
// Each panel lives in its own sub-package.
package components

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Component is one focusable panel. The root model owns the layout and the
// border; a component renders its content into the size it is given.
type Component interface {
	Title() string
	SetSnapshot(s *watch.Snapshot)
	SetSize(w, h int)
	// Update handles a message while the panel has focus.
	Update(msg tea.Msg) tea.Cmd
	View() string
}

// InputCapturer is implemented by a component that is taking text input
// (the log filter); the root then sends it every key.
type InputCapturer interface {
	Capturing() bool
}

// Age prints a duration the way kubectl does: 45s, 3m12s, 2h5m, 3d.
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// ShortMetric drops the adapter's Cloud Monitoring decoration from a metric
// name: prometheus.googleapis.com|vllm:num_requests_running|gauge becomes
// vllm:num_requests_running.
func ShortMetric(name string) string {
	parts := strings.Split(name, "|")
	if len(parts) == 3 && strings.HasSuffix(parts[0], ".googleapis.com") {
		return parts[1]
	}
	return name
}

// ShortPod keeps the distinguishing tail of a generated pod name
// (vllm-gemma-7d9f8b6c5d-x2x7k → …6c5d-x2x7k) when it is longer than w.
func ShortPod(name string, w int) string {
	if len(name) <= w || w < 4 {
		return name
	}
	return "…" + name[len(name)-w+1:]
}

// Static is the state of a panel that only draws the latest snapshot and
// has nothing to scroll; panels embed it for the Component plumbing.
type Static struct {
	Snap *watch.Snapshot
	W, H int
}

// SetSnapshot implements Component.
func (s *Static) SetSnapshot(snap *watch.Snapshot) { s.Snap = snap }

// SetSize implements Component.
func (s *Static) SetSize(w, h int) { s.W, s.H = w, h }

// Update implements Component; a static panel ignores input.
func (s *Static) Update(tea.Msg) tea.Cmd { return nil }
