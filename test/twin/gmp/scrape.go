package gmp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
)

// target is one pod endpoint a PodMonitoring or ClusterPodMonitoring selects.
type target struct {
	namespace, pod string
	port           int32
	path           string
	interval       time.Duration
	timeout        time.Duration
	labels         labels.Labels // GMP target labels (project_id … container)
	relabel        []*relabel.Config
}

// key identifies a target's scrape loop; a changed target gets a new loop.
func (t *target) key() string {
	var rl []string
	for _, c := range t.relabel {
		rl = append(rl, fmt.Sprintf("%v", *c))
	}
	return fmt.Sprintf("%s|%s|%d|%s|%s|%s|%s", t.labels.String(), t.pod, t.port, t.path, t.interval, t.timeout, strings.Join(rl, ","))
}

// sample is one parsed exposition sample.
type sample struct {
	name   string
	kind   Kind
	labels map[string]string
	value  float64
}

// scrapeOnce fetches addr+path and returns the parsed samples.
func scrapeOnce(ctx context.Context, client *http.Client, addr, path string) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	var out []sample
	for name, f := range fams {
		out = append(out, familySamples(name, f)...)
	}
	return out, nil
}

// familySamples flattens a metric family as Prometheus stores it:
// histograms into _bucket{le}/_sum/_count, summaries into quantiles/_sum/_count.
func familySamples(name string, f *dto.MetricFamily) []sample {
	var out []sample
	add := func(n string, k Kind, m *dto.Metric, v float64, extra ...string) {
		ls := map[string]string{}
		for _, lp := range m.GetLabel() {
			ls[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(extra); i += 2 {
			ls[extra[i]] = extra[i+1]
		}
		out = append(out, sample{name: n, kind: k, labels: ls, value: v})
	}
	for _, m := range f.GetMetric() {
		switch f.GetType() {
		case dto.MetricType_GAUGE:
			add(name, Gauge, m, m.GetGauge().GetValue())
		case dto.MetricType_COUNTER:
			add(name, Counter, m, m.GetCounter().GetValue())
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			for _, b := range h.GetBucket() {
				add(name+"_bucket", Unknown, m, float64(b.GetCumulativeCount()), "le", formatFloat(b.GetUpperBound()))
			}
			add(name+"_bucket", Unknown, m, float64(h.GetSampleCount()), "le", "+Inf")
			add(name+"_sum", Unknown, m, h.GetSampleSum())
			add(name+"_count", Unknown, m, float64(h.GetSampleCount()))
		case dto.MetricType_SUMMARY:
			s := m.GetSummary()
			for _, q := range s.GetQuantile() {
				add(name, Unknown, m, q.GetValue(), "quantile", formatFloat(q.GetQuantile()))
			}
			add(name+"_sum", Unknown, m, s.GetSampleSum())
			add(name+"_count", Unknown, m, float64(s.GetSampleCount()))
		default:
			add(name, Unknown, m, m.GetUntyped().GetValue())
		}
	}
	return out
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// seriesLabels merges a scraped sample's labels with the target labels
// under Prometheus's honor_labels: false rule (a scraped label that clashes
// with a target label is kept as exported_<name>), then applies the
// endpoint's metricRelabeling. ok is false when relabelling drops it.
func seriesLabels(s sample, targetLabels labels.Labels, cfgs []*relabel.Config) (labels.Labels, bool) {
	b := labels.NewBuilder(targetLabels)
	for name, v := range s.labels {
		if v == "" {
			continue
		}
		if targetLabels.Has(name) {
			exported := "exported_" + name
			for targetLabels.Has(exported) {
				exported = "exported_" + exported
			}
			b.Set(exported, v)
			continue
		}
		b.Set(name, v)
	}
	b.Set(model.MetricNameLabel, s.name)
	if !relabel.ProcessBuilder(b, cfgs...) {
		return labels.EmptyLabels(), false
	}
	lset := b.Labels()
	return lset, lset.Get(model.MetricNameLabel) != ""
}
