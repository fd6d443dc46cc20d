// Package pods is the table of the scale target's pods: name, phase, ready,
// age, node, restarts and the value of the HPA's first Pods metric.
package pods

import (
	"fmt"

	"charm.land/bubbles/v2/table"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Model is the pods table.
type Model struct {
	styles  theme.Styles
	snap    *watch.Snapshot
	table   table.Model
	w, h    int
	metric  string
	focused bool
}

// New returns an empty pods table.
func New(s theme.Styles) *Model {
	m := &Model{styles: s, table: table.New()}
	m.setStyles()
	return m
}

func (m *Model) setStyles() {
	sel := lipgloss.NewStyle()
	if m.focused {
		sel = lipgloss.NewStyle().Reverse(true)
	}
	m.table.SetStyles(table.Styles{
		Header:   m.styles.Bold.Padding(0, 1, 0, 0),
		Cell:     lipgloss.NewStyle().Padding(0, 1, 0, 0),
		Selected: sel,
	})
}

// Title implements components.Component.
func (m *Model) Title() string {
	if m.snap == nil {
		return "Pods"
	}
	ready := 0
	for _, p := range m.snap.Pods {
		if p.IsReady {
			ready++
		}
	}
	return fmt.Sprintf("Pods %d/%d ready", ready, len(m.snap.Pods))
}

// Focus is called by the root when the panel gains or loses focus.
func (m *Model) Focus(f bool) {
	m.focused = f
	if f {
		m.table.Focus()
	} else {
		m.table.Blur()
	}
	m.setStyles()
}

// SetSnapshot implements components.Component.
func (m *Model) SetSnapshot(s *watch.Snapshot) {
	m.snap = s
	m.metric = ""
	for _, mi := range s.Metrics {
		if mi.Type == "Pods" {
			m.metric = mi.Name
			break
		}
	}
	m.refresh()
}

// SetSize implements components.Component.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.refresh()
}

func (m *Model) refresh() {
	if m.w <= 0 || m.h <= 0 {
		return
	}
	fixed := []table.Column{{Title: "PHASE", Width: 11}, {Title: "READY", Width: 5}, {Title: "AGE", Width: 6},
		{Title: "NODE", Width: 14}, {Title: "RST", Width: 4}, {Title: "METRIC", Width: 8}}
	if m.w < 90 {
		fixed[3].Width = 10
	}
	used := 0
	for _, c := range fixed {
		used += c.Width + 1
	}
	name := table.Column{Title: "NAME", Width: max(m.w-used-1, 10)}
	m.table.SetColumns(append([]table.Column{name}, fixed...))
	var rows []table.Row
	if m.snap != nil {
		var vals map[string]float64
		for _, mi := range m.snap.Metrics {
			if mi.Name == m.metric {
				vals = mi.PerPod
			}
		}
		for _, p := range m.snap.Pods {
			val := "-"
			if v, ok := vals[p.Name]; ok {
				val = watch.FormatValue(v)
			}
			phase := p.Phase
			if p.LastTermination != "" {
				phase += "!" // e.g. a past OOMKilled; the events and logs say more
			}
			rows = append(rows, table.Row{components.ShortPod(p.Name, name.Width), phase, p.Ready,
				components.Age(m.snap.Time.Sub(p.Created)), components.ShortPod(p.Node, fixed[3].Width),
				fmt.Sprint(p.Restarts), val})
		}
	}
	m.table.SetRows(rows)
	if m.table.Cursor() < 0 && len(rows) > 0 {
		// An empty table leaves the cursor at -1, which hides the last row.
		m.table.SetCursor(0)
	}
	m.table.SetWidth(m.w)
	m.table.SetHeight(m.h)
}

// Update implements components.Component: arrows and pgup/pgdn move the cursor.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.table, cmd = m.table.Update(msg)
	return cmd
}

// View implements components.Component.
func (m *Model) View() string {
	if m.snap != nil && m.snap.PodsError != "" && len(m.snap.Pods) == 0 {
		return m.styles.Warn.Render("! " + m.snap.PodsError)
	}
	if m.snap != nil && len(m.snap.Pods) == 0 {
		return m.styles.Dim.Render("no pods match the Deployment's selector")
	}
	return m.table.View()
}
