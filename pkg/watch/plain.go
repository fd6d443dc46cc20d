package watch

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// FormatValue prints a metric value compactly: at most three decimals,
// trailing zeros dropped.
func FormatValue(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// PlainPrinter writes one timestamped line per change between successive
// snapshots: replicas, desired replicas, metric values, HPA conditions, new
// events, adapter error lines and panel errors. It is what `watch --plain`
// prints when stdout is not a terminal.
type PlainPrinter struct {
	W io.Writer

	started    bool
	prev       Snapshot
	seenEvents map[string]int32
	lastLog    uint64
}

// Print writes the lines for what changed since the previous snapshot.
func (p *PlainPrinter) Print(s Snapshot) error {
	var b strings.Builder
	ts := s.Time.UTC().Format(time.RFC3339)
	line := func(format string, a ...any) {
		fmt.Fprintf(&b, "%s %s\n", ts, fmt.Sprintf(format, a...))
	}
	if p.seenEvents == nil {
		p.seenEvents = map[string]int32{}
	}
	first := !p.started
	p.started = true

	p.hpaLines(s, first, line)
	p.metricLines(s, first, line)
	for _, pe := range [][3]string{
		{"hpa", p.prev.HPAError, s.HPAError}, {"deployment", p.prev.DeploymentError, s.DeploymentError},
		{"pods", p.prev.PodsError, s.PodsError}, {"events", p.prev.EventsError, s.EventsError},
		{"adapter", p.prev.AdapterError, s.AdapterError}, {"adapter-log", p.prev.LogsError, s.LogsError},
		{"adapter", p.prev.NoAdapter, s.NoAdapter},
	} {
		if pe[2] != pe[1] && pe[2] != "" && !strings.HasPrefix(pe[2], "waiting for") {
			line("%s: %s", pe[0], pe[2])
		}
	}
	for i := len(s.Events) - 1; i >= 0; i-- { // oldest first
		e := s.Events[i]
		if c, ok := p.seenEvents[e.UID]; ok && c == e.Count {
			continue
		}
		p.seenEvents[e.UID] = e.Count
		line("event %s %s %s: %s", e.Type, e.Reason, e.Object, e.Message)
	}
	for _, l := range s.Logs {
		if l.Seq <= p.lastLog {
			continue
		}
		p.lastLog = l.Seq
		if l.Error {
			line("adapter-error %s: %s", l.Pod, l.Text)
		}
	}
	p.prev = s
	_, err := io.WriteString(p.W, b.String())
	return err
}

func (p *PlainPrinter) hpaLines(s Snapshot, first bool, line func(string, ...any)) {
	h, old := s.HPA, p.prev.HPA
	if h == nil {
		return
	}
	if first || old == nil {
		line("hpa %s/%s -> %s/%s min=%d max=%d replicas=%d desired=%d behavior=%q",
			s.Namespace, h.Name, h.TargetKind, h.TargetName, h.MinReplicas, h.MaxReplicas,
			h.CurrentReplicas, h.DesiredReplicas, h.Behavior)
	} else {
		if h.CurrentReplicas != old.CurrentReplicas {
			line("replicas %d -> %d", old.CurrentReplicas, h.CurrentReplicas)
		}
		if h.DesiredReplicas != old.DesiredReplicas {
			line("desired %d -> %d", old.DesiredReplicas, h.DesiredReplicas)
		}
	}
	prevCond := map[string]Condition{}
	if old != nil {
		for _, c := range old.Conditions {
			prevCond[c.Type] = c
		}
	}
	for _, c := range h.Conditions {
		if pc, ok := prevCond[c.Type]; !ok || pc.Status != c.Status || pc.Reason != c.Reason {
			msg := ""
			if c.Message != "" {
				msg = ": " + c.Message
			}
			line("condition %s=%s %s (%s)%s", c.Type, c.Status, c.Reason, c.Verdict(), msg)
		}
	}
}

func (p *PlainPrinter) metricLines(s Snapshot, first bool, line func(string, ...any)) {
	prev := map[string]MetricInfo{}
	for _, m := range p.prev.Metrics {
		prev[m.Name] = m
	}
	for _, m := range s.Metrics {
		pm, seen := prev[m.Name]
		if m.HasCurrent && (first || !seen || !pm.HasCurrent || pm.Current != m.Current || pm.Target != m.Target) {
			line("metric %s %s (target %s %s)", m.Name, FormatValue(m.Current), m.TargetType, FormatValue(m.Target))
		}
		if m.Error != "" && (!seen || pm.Error != m.Error) {
			line("metric %s error: %s", m.Name, m.Error)
		}
	}
}
