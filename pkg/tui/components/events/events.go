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
	styles  theme.Styles
	snap    *watch.Snapshot
	vp      viewport.Model
	entries []entry
}

// entry is one event before wrapping: its age column and the rest.
type entry struct{ prefix, body string }

// New returns an empty events panel.
func New(s theme.Styles) *Model {
	return &Model{styles: s, vp: viewport.New()}
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
	m.entries = m.entries[:0]
	if s.EventsError != "" && len(s.Events) == 0 {
		m.entries = append(m.entries, entry{body: st.Warn.Render("! " + s.EventsError)})
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
		m.entries = append(m.entries, entry{
			prefix: st.Dim.Render(fmt.Sprintf("%6s", components.Age(s.Time.Sub(e.Time)))) + " ",
			body:   fmt.Sprintf("%s%s %s %s", reason, count, st.Dim.Render(shortKind(e.Object)+":"), e.Message),
		})
	}
	if len(m.entries) == 0 {
		m.entries = append(m.entries, entry{body: st.Dim.Render("no events yet")})
	}
	m.render()
}

// render wraps the entries at the panel's width, each under its own
// reason column.
func (m *Model) render() {
	var lines []string
	for _, e := range m.entries {
		lines = append(lines, components.Hanging(e.prefix, e.body, m.vp.Width())...)
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
	m.render()
}

// Update implements components.Component: arrows, pgup/pgdn scroll.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.vp, cmd = m.vp.Update(msg)
	return cmd
}

// View implements components.Component.
func (m *Model) View() string { return m.vp.View() }
