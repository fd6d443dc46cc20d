// Package events is the panel of Kubernetes Events about the HPA and its
// Deployment (SuccessfulRescale, FailedGetPodsMetric,
// FailedComputeMetricsReplicas …), newest first.
package events

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Model is the events panel.
type Model struct {
	styles theme.Styles
	snap   *watch.Snapshot
	vp     viewport.Model
}

// New returns an empty events panel.
func New(s theme.Styles) *Model {
	vp := viewport.New()
	vp.SoftWrap = true
	return &Model{styles: s, vp: vp}
}

// Title implements components.Component.
func (m *Model) Title() string {
	if m.snap == nil {
		return "Events"
	}
	return fmt.Sprintf("Events (%d)", len(m.snap.Events))
}

// SetSnapshot implements components.Component.
func (m *Model) SetSnapshot(s *watch.Snapshot) {
	m.snap = s
	st := m.styles
	var lines []string
	if s.EventsError != "" && len(s.Events) == 0 {
		lines = append(lines, st.Warn.Render("! "+s.EventsError))
	}
	for _, e := range s.Events {
		reason := st.OK.Render(e.Reason)
		if e.Type != "Normal" {
			reason = st.Err.Render("! " + e.Reason)
		}
		count := ""
		if e.Count > 1 {
			count = st.Dim.Render(fmt.Sprintf(" ×%d", e.Count))
		}
		lines = append(lines, fmt.Sprintf("%s %s%s %s %s", st.Dim.Render(fmt.Sprintf("%6s", components.Age(s.Time.Sub(e.Time)))),
			reason, count, st.Dim.Render(shortKind(e.Object)+":"), e.Message))
	}
	if len(lines) == 0 {
		lines = append(lines, st.Dim.Render("no events yet"))
	}
	m.vp.SetContentLines(lines)
}

func shortKind(obj string) string {
	kind, name, _ := strings.Cut(obj, "/")
	switch kind {
	case "HorizontalPodAutoscaler":
		kind = "hpa"
	case "Deployment":
		kind = "deploy"
	}
	return kind + "/" + name
}

// SetSize implements components.Component.
func (m *Model) SetSize(w, h int) {
	m.vp.SetWidth(w)
	m.vp.SetHeight(h)
}

// Update implements components.Component: arrows, pgup/pgdn scroll.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.vp, cmd = m.vp.Update(msg)
	return cmd
}

// View implements components.Component.
func (m *Model) View() string { return m.vp.View() }
