// Package tune sweeps the concurrency against one vLLM pod, finds where
// latency breaks the SLO or throughput stops growing (the knee), and turns
// what the pod's own metrics read there into HPA targets.
package tune

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
)

// Bound is one SLO term: a latency percentile at most Max.
type Bound struct {
	Metric string // ttft, itl or e2e
	Pct    int    // 50, 90 or 99
	Max    time.Duration
}

func (b Bound) String() string {
	return fmt.Sprintf("%s-p%d=%s", b.Metric, b.Pct, load.Short(b.Max))
}

// ParseSLO reads "ttft-p90=2s,itl-p90=100ms,e2e-p99=30s"; a metric
// without a percentile means p90.
func ParseSLO(s string) ([]Bound, error) {
	const how = "write METRIC-pNN=DURATION terms separated by commas, METRIC one of ttft, itl, e2e, e.g. --slo ttft-p90=2s,itl-p90=100ms"
	var out []Bound
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		k, v, ok := strings.Cut(term, "=")
		if !ok {
			return nil, fmt.Errorf("--slo %q: %q has no =DURATION: %s", s, term, how)
		}
		metric, pct, hasPct := strings.Cut(strings.ToLower(strings.TrimSpace(k)), "-p")
		b := Bound{Metric: metric, Pct: 90}
		switch metric {
		case "ttft", "itl", "e2e":
		default:
			return nil, fmt.Errorf("--slo %q: unknown metric %q: %s", s, metric, how)
		}
		if hasPct {
			n, err := strconv.Atoi(pct)
			if err != nil || n != 50 && n != 90 && n != 99 {
				return nil, fmt.Errorf("--slo %q: percentile p%s is not p50, p90 or p99: %s", s, pct, how)
			}
			b.Pct = n
		}
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("--slo %q: %q is not a positive duration like 2s or 100ms: %s", s, v, how)
		}
		b.Max = d
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--slo is empty: %s", how)
	}
	return out, nil
}

// Value is the measured percentile the bound constrains.
func (b Bound) Value(s *load.StageReport) time.Duration {
	q := s.E2E
	switch b.Metric {
	case "ttft":
		q = s.TTFT
	case "itl":
		q = s.ITL
	}
	switch b.Pct {
	case 50:
		return q.P50
	case 99:
		return q.P99
	}
	return q.P90
}

// Violations lists the bounds a stage breaks, as "ttft-p90 2.4s > 2s".
func Violations(slo []Bound, s *load.StageReport) []string {
	var out []string
	for _, b := range slo {
		if v := b.Value(s); v > b.Max {
			out = append(out, fmt.Sprintf("%s-p%d %s > %s", b.Metric, b.Pct, load.Short(v), load.Short(b.Max)))
		}
	}
	return out
}
