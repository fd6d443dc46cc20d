// Package metrics is the panel that shows each HPA metric: its current value
// against the target, a chart over time with the target as a line, and the
// values the custom metrics API reports per pod.
package metrics

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/components/chart"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui/theme"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

// Model is the metrics panel.
type Model struct {
	components.Static
	styles theme.Styles
}

// New returns an empty metrics panel.
func New(s theme.Styles) *Model { return &Model{styles: s} }

// Title implements components.Component.
func (m *Model) Title() string { return "Metrics" }

// View implements components.Component.
func (m *Model) View() string {
	s := m.Snap
	if s == nil || s.HPA == nil {
		return m.styles.Dim.Render("no HPA yet")
	}
	if len(s.Metrics) == 0 {
		return m.styles.Warn.Render("! the HPA has no metrics in its spec")
	}
	per := max(m.H/len(s.Metrics), 1)
	var blocks []string
	for _, mi := range s.Metrics {
		blocks = append(blocks, m.metric(mi, per))
	}
	return strings.Join(blocks, "\n")
}

func (m *Model) metric(mi watch.MetricInfo, h int) string {
	st := m.styles
	head := st.Bold.Render(components.ShortMetric(mi.Name)) + " "
	target := watch.FormatValue(mi.Target)
	if mi.TargetType == "Utilization" {
		target += "%"
	}
	switch {
	case !mi.HasCurrent:
		head += st.Dim.Render("? / " + target)
	case mi.Current > mi.Target:
		head += st.Err.Render(watch.FormatValue(mi.Current)+" ▲") + st.Dim.Render(" / "+target)
	default:
		head += st.OK.Render(watch.FormatValue(mi.Current)+" ▼") + st.Dim.Render(" / "+target)
	}
	head += st.Dim.Render(map[string]string{"AverageValue": " avg/pod", "Value": " total", "Utilization": " util"}[mi.TargetType])
	lines := []string{head}
	if mi.Error != "" {
		lines = append(lines, st.Err.Render("! "+mi.Error))
	}
	if len(mi.PerPod) > 0 {
		lines = append(lines, m.perPod(mi.PerPod))
	}
	if c := m.chart(mi, h-len(lines)); c != "" {
		lines = append(lines[:1], append([]string{c}, lines[1:]...)...)
	}
	return theme.Fit(strings.Join(lines, "\n"), m.W, min(h, len(strings.Split(strings.Join(lines, "\n"), "\n"))))
}

func (m *Model) perPod(vals map[string]float64) string {
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %s", components.ShortPod(n, 12), watch.FormatValue(vals[n])))
	}
	return m.styles.Dim.Render("per pod ") + strings.Join(parts, " · ")
}

func (m *Model) chart(mi watch.MetricInfo, h int) string {
	pts := m.Snap.History.Metrics[mi.Name]
	if len(pts) == 0 {
		return ""
	}
	times := make([]time.Time, len(pts))
	vals, targets := make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		times[i], vals[i], targets[i] = p.Time, p.Value, p.Target
	}
	st := m.styles
	return chart.Render(m.W, h, st.Dim,
		chart.Series{Name: "target", Style: st.Target, Times: times, Values: targets},
		chart.Series{Name: "value", Style: st.Series, Times: times, Values: vals})
}
