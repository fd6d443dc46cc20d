// Package promtext reads the Prometheus text exposition a vLLM pod serves on
// /metrics, with the Prometheus project's own parser (expfmt).
package promtext

import (
	"bytes"
	"fmt"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse reads a text exposition (format 0.0.4) into its metric families,
// by name. On a malformed body it returns the families read before the bad
// line and an error naming that line.
func Parse(body []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return fams, fmt.Errorf("not Prometheus text exposition: %w", err)
	}
	return fams, nil
}

// Names are the metric families a body declares or has samples of. A
// family declared (# TYPE, # HELP) with no sample is absent, as in
// Prometheus. On a malformed body: the names before the bad line, and the
// error.
func Names(body []byte) (map[string]bool, error) {
	fams, err := Parse(body)
	out := make(map[string]bool, len(fams))
	for name := range fams {
		out[name] = true
	}
	return out, err
}

// Sums is, per family, the sum of its series' values: gauges, counters and
// untyped samples under the family name; histograms and summaries as
// NAME_sum and NAME_count. For a vLLM pod (one engine: one series per
// gauge) the sum is the pod's value.
func Sums(body []byte) (map[string]float64, error) {
	fams, err := Parse(body)
	out := make(map[string]float64, len(fams))
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				out[name] += m.GetGauge().GetValue()
			case dto.MetricType_COUNTER:
				out[name] += m.GetCounter().GetValue()
			case dto.MetricType_UNTYPED:
				out[name] += m.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				out[name+"_sum"] += m.GetHistogram().GetSampleSum()
				out[name+"_count"] += float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_SUMMARY:
				out[name+"_sum"] += m.GetSummary().GetSampleSum()
				out[name+"_count"] += float64(m.GetSummary().GetSampleCount())
			}
		}
	}
	return out, err
}
