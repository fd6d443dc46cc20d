// Package scaling is the panel that shows the HPA's current and desired
// replicas, a chart of both over time, its conditions with their reasons and
// the last rescale.
package scaling

import (
	"fmt"
	"strings"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/chart"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Model is the scaling panel.
type Model struct {
	components.Static
	styles theme.Styles
}

// New returns an empty scaling panel.
func New(s theme.Styles) *Model { return &Model{styles: s} }

// Title implements components.Component.
func (m *Model) Title() string { return "Scaling" }

// View implements components.Component.
func (m *Model) View() string {
	st := m.styles
	s := m.Snap
	if s == nil || s.HPA == nil {
		msg := "waiting for the HPA…"
		if s != nil && s.HPAError != "" {
			msg = "! " + s.HPAError
		}
		return st.Warn.Render(msg)
	}
	h := s.HPA
	summary := fmt.Sprintf("%s %s  %s %s", st.Dim.Render("current"), st.Bold.Render(fmt.Sprint(h.CurrentReplicas)),
		st.Dim.Render("desired"), st.Desired.Bold(true).Render(fmt.Sprint(h.DesiredReplicas)))
	if d := s.Deployment; d != nil {
		summary += st.Dim.Render(fmt.Sprintf("  ready %d/%d", d.ReadyReplicas, d.Replicas))
	}
	last := st.Dim.Render("last rescale ") + "never"
	if !h.LastScaleTime.IsZero() {
		last = st.Dim.Render("last rescale ") + components.Age(s.Time.Sub(h.LastScaleTime)) + " ago"
		if h.LastScaleReason != "" {
			last += ": " + h.LastScaleReason
		}
	}
	conds := m.conditions(h.Conditions, false)
	chartH := m.H - 2 - len(conds)
	if chartH < 3 {
		conds = m.conditions(h.Conditions, true)
		chartH = m.H - 2 - len(conds)
	}
	lines := []string{summary}
	if c := m.chart(chartH); c != "" {
		lines = append(lines, c)
	}
	lines = append(lines, conds...)
	lines = append(lines, last)
	return strings.Join(lines, "\n")
}

// conditions renders one line per condition, or all on one line when compact.
func (m *Model) conditions(cs []watch.Condition, compact bool) []string {
	st := m.styles
	var out []string
	for _, c := range cs {
		mark := st.OK.Render("✓")
		// ScalingLimited=True is the notable state; for the others False is.
		bad := (c.Type == "ScalingLimited") == (c.Status == "True")
		if bad {
			mark = st.Warn.Render("✗")
		}
		if c.Status == "Unknown" {
			mark = st.Dim.Render("?")
		}
		if compact {
			out = append(out, mark+c.Type+"("+c.Reason+")")
			continue
		}
		out = append(out, fmt.Sprintf("%s %-14s %s", mark, c.Type, st.Dim.Render(c.Reason)))
	}
	if compact && len(out) > 0 {
		return []string{strings.Join(out, " ")}
	}
	return out
}

func (m *Model) chart(h int) string {
	pts := m.Snap.History.Replicas
	if len(pts) == 0 {
		return ""
	}
	times := make([]time.Time, len(pts))
	cur, des := make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		times[i], cur[i], des[i] = p.Time, float64(p.Current), float64(p.Desired)
	}
	st := m.styles
	return chart.Render(m.W, h, st.Dim,
		chart.Series{Name: "desired", Style: st.Desired, Times: times, Values: des},
		chart.Series{Name: "current", Style: st.Series, Times: times, Values: cur})
}
