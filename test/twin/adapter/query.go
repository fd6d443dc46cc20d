package adapter

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
)

// metricType is a Cloud Monitoring metric type the adapter was asked for.
type metricType struct {
	domain, name string
	kind         gmp.Kind
}

// parseMetricName turns the adapter's metric name (the Cloud Monitoring type
// with "/" replaced by "|") into a type. Like the real adapter it works on
// the lower-cased name (k8s-stackdriver #274), so a type with upper-case
// letters is never found.
func parseMetricName(name string) (metricType, error) {
	parts := strings.Split(strings.ToLower(name), "|")
	if len(parts) < 2 {
		return metricType{}, fmt.Errorf("metric name %q is not a Cloud Monitoring type with / replaced by |", name)
	}
	mt := metricType{domain: parts[0], name: strings.Join(parts[1:len(parts)-1], "/"), kind: gmp.Kind(parts[len(parts)-1])}
	if len(parts) == 2 {
		mt.name, mt.kind = parts[1], ""
	}
	return mt, nil
}

// String is the Cloud Monitoring type, e.g.
// prometheus.googleapis.com/vllm:num_requests_running/gauge.
func (m metricType) String() string {
	if m.kind == "" {
		return m.domain + "/" + m.name
	}
	return m.domain + "/" + m.name + "/" + string(m.kind)
}

// filter is a Cloud Monitoring list filter: the log line and the store
// matchers it stands for.
type filter struct {
	terms    []string
	matchers []*labels.Matcher
}

// eq adds `term = "value"`, matched against the store's label (none: the
// term is answered otherwise).
func (f *filter) eq(term, label, value string) {
	f.terms = append(f.terms, fmt.Sprintf("%s = %q", term, value))
	if label != "" {
		f.matchers = append(f.matchers, labels.MustNewMatcher(labels.MatchEqual, label, value))
	}
}

func (f *filter) oneOf(term, label string, values []string) {
	if len(values) == 1 {
		f.eq(term, label, values[0])
		return
	}
	quoted := make([]string, len(values))
	escaped := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
		escaped[i] = regexpQuote(v)
	}
	f.terms = append(f.terms, fmt.Sprintf("%s = one_of(%s)", term, strings.Join(quoted, ",")))
	f.matchers = append(f.matchers, labels.MustNewMatcher(labels.MatchRegexp, label, strings.Join(escaped, "|")))
}

// String is the filter as the real adapter logs it (terms sorted, AND-ed).
func (f *filter) String() string {
	terms := slices.Clone(f.terms)
	slices.Sort(terms)
	return strings.Join(terms, " AND ")
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteRune('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// newFilter is the filter for one metric type of the twin's
// prometheus_target resources in a namespace ("" for any).
func (a *Adapter) newFilter(mt metricType, namespace string) *filter {
	f := &filter{}
	f.terms = append(f.terms, fmt.Sprintf("metric.type = %q", mt.String()))
	f.matchers = append(f.matchers, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, mt.name)) // kind: see query
	f.eq("resource.type", "", "prometheus_target")
	f.eq("resource.labels.project_id", "project_id", a.opts.Project)
	f.eq("resource.labels.location", "location", a.opts.Location)
	f.eq("resource.labels.cluster", "cluster", a.opts.Cluster)
	if namespace != "" {
		f.eq("resource.labels.namespace", "namespace", namespace)
	}
	return f
}

// value reduces a series to the adapter's number: the latest point for a
// gauge, the per-second rate over the rate window for a counter.
func (a *Adapter) value(sr gmp.Series, now time.Time) (float64, time.Time, bool) {
	pts := sr.Points
	if len(pts) == 0 {
		return 0, time.Time{}, false
	}
	last := pts[len(pts)-1]
	if sr.Kind != gmp.Counter {
		return last.V, last.T, true
	}
	var inWindow []gmp.Sample
	for _, p := range pts {
		if !p.T.Before(now.Add(-a.opts.RateWindow)) {
			inWindow = append(inWindow, p)
		}
	}
	if len(inWindow) < 2 {
		return 0, time.Time{}, false
	}
	inc := 0.0
	for i := 1; i < len(inWindow); i++ {
		d := inWindow[i].V - inWindow[i-1].V
		if d < 0 { // counter reset
			d = inWindow[i].V
		}
		inc += d
	}
	dt := inWindow[len(inWindow)-1].T.Sub(inWindow[0].T).Seconds()
	return inc / dt, last.T, true
}

// query reads the store for f and the kind of mt.
func (a *Adapter) query(mt metricType, f *filter, now time.Time) []gmp.Series {
	var out []gmp.Series
	if mt.domain != "prometheus.googleapis.com" {
		return nil // the twin's Cloud Monitoring holds Managed Prometheus types only
	}
	for _, sr := range a.opts.Store.Select(now.Add(-a.opts.Window), now, f.matchers...) {
		if mt.kind == "" || sr.Kind == mt.kind {
			out = append(out, sr)
		}
	}
	return out
}
