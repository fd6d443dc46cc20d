// Package header draws the top two lines of the watch screen: where we are
// (context, namespace, HPA → Deployment, min/max), the behavior in force and
// how long the screen has been up.
package header

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Model is the header. It is not focusable.
type Model struct {
	styles theme.Styles
	snap   *watch.Snapshot
	width  int
	Paused bool
	// Doctor is doctor's one-line verdict ("" until it has run);
	// DoctorFailed colours it as an error.
	Doctor       string
	DoctorFailed bool
}

// New returns an empty header.
func New(s theme.Styles) *Model { return &Model{styles: s} }

// SetSnapshot sets the snapshot to describe.
func (m *Model) SetSnapshot(s *watch.Snapshot) { m.snap = s }

// SetWidth sets the width in columns.
func (m *Model) SetWidth(w int) { m.width = w }

// Height is the number of lines View returns.
func (m *Model) Height() int { return 2 }

// View renders the header.
func (m *Model) View() string {
	st := m.styles
	var l1, l2 []string
	l1 = append(l1, st.Title.Render("infer-hpa watch"))
	s := m.snap
	if s == nil {
		l1 = append(l1, st.Dim.Render("connecting…"))
		return theme.Fit(strings.Join(l1, "  ")+"\n", m.width, 2)
	}
	if s.Context != "" {
		l1 = append(l1, st.Dim.Render("ctx ")+s.Context)
	}
	l1 = append(l1, st.Dim.Render("ns ")+s.Namespace)
	if h := s.HPA; h != nil {
		l1 = append(l1, st.Accent.Render("hpa/"+h.Name)+" → "+strings.ToLower(h.TargetKind)+"/"+h.TargetName)
		l2 = append(l2, fmt.Sprintf("min %d max %d", h.MinReplicas, h.MaxReplicas), st.Dim.Render("behavior ")+h.Behavior)
	} else {
		l2 = append(l2, st.Err.Render("! "+s.HPAError))
	}
	if m.Doctor != "" {
		if m.DoctorFailed { // a failure goes first: it matters more than the behavior
			l2 = append([]string{st.Err.Render("! " + m.Doctor)}, l2...)
		} else {
			l2 = append(l2, st.OK.Render("✓ "+m.Doctor))
		}
	}
	up := st.Dim.Render("up ") + components.Age(s.Time.Sub(s.Started))
	if m.Paused {
		up = st.Warn.Bold(true).Render("PAUSED") + "  " + up
	}
	line1 := strings.Join(l1, "  ")
	line2 := strings.Join(l2, "  ")
	return theme.Fit(line1+"\n"+rightAlign(line2, up, m.width), m.width, 2)
}

func rightAlign(left, right string, w int) string {
	return theme.Fit(left, max(w-ansi.StringWidth(right)-1, 0), 1) + " " + right
}
