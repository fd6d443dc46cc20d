package load

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Stage is one step of a run: Concurrency closed-loop clients (or, in an
// open loop, Rate requests per second) for Duration. Concurrency 0 and Rate
// 0 is a pause: nothing is sent, so scale-down can be watched.
type Stage struct {
	Concurrency int           `json:"concurrency"`
	Rate        float64       `json:"rate,omitempty"`
	Duration    time.Duration `json:"duration"`
}

// Name is how the stage is shown: "c=8", "rate=20/s", "pause".
func (s Stage) Name() string {
	switch {
	case s.Rate > 0:
		return "rate=" + strconv.FormatFloat(s.Rate, 'g', -1, 64) + "/s"
	case s.Concurrency == 0:
		return "pause"
	}
	return "c=" + strconv.Itoa(s.Concurrency)
}

// ParseStages parses a ramp such as "2x1m,8x2m,16x2m,0x1m": comma-separated
// CONCURRENCYxDURATION steps; 0 is a pause.
func ParseStages(s string) ([]Stage, error) {
	const how = `write CONCURRENCYxDURATION steps separated by commas, e.g. --stages 2x1m,8x2m,0x1m`
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--stages is empty: %s", how)
	}
	var out []Stage
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		c, d, ok := strings.Cut(part, "x")
		if !ok || c == "" || d == "" {
			return nil, fmt.Errorf("--stages: step %q is not CONCURRENCYxDURATION: %s", part, how)
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--stages: step %q: concurrency %q must be a whole number ≥ 0: %s", part, c, how)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("--stages: step %q: duration %q must be positive, like 30s or 2m: %s", part, d, how)
		}
		out = append(out, Stage{Concurrency: n, Duration: dur})
	}
	return out, nil
}

// FormatStages is the inverse of ParseStages.
func FormatStages(stages []Stage) string {
	parts := make([]string, len(stages))
	for i, s := range stages {
		parts[i] = fmt.Sprintf("%dx%s", s.Concurrency, shortDuration(s.Duration))
	}
	return strings.Join(parts, ",")
}

// shortDuration prints 1m0s as 1m and 1h0m0s as 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
