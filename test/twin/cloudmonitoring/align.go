package cloudmonitoring

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
)

// aggregation is a timeSeries.list call's aggregation.* parameters.
type aggregation struct {
	aligner, reducer string
	period           time.Duration
	groupBy          []string
}

var aligners = []string{"", "ALIGN_NONE", "ALIGN_NEXT_OLDER", "ALIGN_MEAN", "ALIGN_MIN", "ALIGN_MAX", "ALIGN_SUM", "ALIGN_RATE", "ALIGN_DELTA"}

var reducers = []string{"", "REDUCE_NONE", "REDUCE_SUM", "REDUCE_MEAN", "REDUCE_MIN", "REDUCE_MAX", "REDUCE_COUNT"}

func (a aggregation) validate() *apiError {
	if !slices.Contains(aligners, a.aligner) {
		return invalid("The twin's Cloud Monitoring does not support the aligner " + a.aligner + " (it supports " + strings.Join(aligners[1:], ", ") + ").")
	}
	if !slices.Contains(reducers, a.reducer) {
		return invalid("The twin's Cloud Monitoring does not support the reducer " + a.reducer + " (it supports " + strings.Join(reducers[1:], ", ") + ").")
	}
	if a.aligner != "" && a.aligner != "ALIGN_NONE" && a.period == 0 {
		return invalid("The alignment period must be specified when the per-series aligner is not ALIGN_NONE.")
	}
	if a.reducer != "" && a.reducer != "REDUCE_NONE" && (a.aligner == "" || a.aligner == "ALIGN_NONE") {
		return invalid("A cross-series reducer requires a per-series aligner other than ALIGN_NONE.")
	}
	return nil
}

func (a aggregation) kindOK(k gmp.Kind) *apiError {
	if (a.aligner == "ALIGN_RATE" || a.aligner == "ALIGN_DELTA") && k != gmp.Counter {
		return invalid("The aligner " + a.aligner + " is not valid for metrics of kind GAUGE.")
	}
	return nil
}

func valueOf(v float64) map[string]any { return map[string]any{"doubleValue": v} }

// align turns a series' samples into the answer's points, newest first.
func (a aggregation) align(sr gmp.Series, start, end time.Time) []point {
	pts := sr.Points
	var out []point
	if a.aligner == "" || a.aligner == "ALIGN_NONE" {
		for i := len(pts) - 1; i >= 0; i-- {
			p := pts[i]
			if p.T.Before(start) || p.T.After(end) {
				continue
			}
			var x point
			x.Interval.StartTime, x.Interval.EndTime = ts(p.T), ts(p.T)
			if sr.Kind == gmp.Counter && len(pts) > 0 {
				x.Interval.StartTime = ts(pts[0].T)
			}
			x.Value = valueOf(p.V)
			out = append(out, x)
		}
		return out
	}
	// One output point per alignment period, ending at end, end-p, ...;
	// each summarises the samples in (e-p, e].
	for e := end; ; e = e.Add(-a.period) {
		from := e.Add(-a.period)
		v, ok := a.window(pts, from, e)
		if ok {
			var x point
			x.Interval.StartTime, x.Interval.EndTime = ts(e), ts(e)
			if a.aligner == "ALIGN_RATE" || a.aligner == "ALIGN_DELTA" {
				x.Interval.StartTime = ts(from)
			}
			x.Value = valueOf(v)
			out = append(out, x)
		}
		if !from.After(start) {
			return out
		}
	}
}

// window summarises the samples in (from, to].
func (a aggregation) window(pts []gmp.Sample, from, to time.Time) (float64, bool) {
	var in []gmp.Sample
	var before *gmp.Sample
	for i, p := range pts {
		switch {
		case !p.T.After(from):
			before = &pts[i]
		case !p.T.After(to):
			in = append(in, p)
		}
	}
	if len(in) == 0 {
		return 0, false
	}
	switch a.aligner {
	case "ALIGN_NEXT_OLDER":
		return in[len(in)-1].V, true
	case "ALIGN_MEAN", "ALIGN_SUM":
		sum := 0.0
		for _, p := range in {
			sum += p.V
		}
		if a.aligner == "ALIGN_SUM" {
			return sum, true
		}
		return sum / float64(len(in)), true
	case "ALIGN_MIN", "ALIGN_MAX":
		v := in[0].V
		for _, p := range in[1:] {
			if a.aligner == "ALIGN_MIN" {
				v = math.Min(v, p.V)
			} else {
				v = math.Max(v, p.V)
			}
		}
		return v, true
	}
	// ALIGN_RATE and ALIGN_DELTA: the increase over the window, counting a
	// drop as a reset; rate divides it by the time the samples span.
	if before != nil {
		in = append([]gmp.Sample{*before}, in...)
	}
	if len(in) < 2 {
		return 0, false
	}
	inc := 0.0
	for i := 1; i < len(in); i++ {
		d := in[i].V - in[i-1].V
		if d < 0 {
			d = in[i].V
		}
		inc += d
	}
	if a.aligner == "ALIGN_DELTA" {
		return inc, true
	}
	return inc / in[len(in)-1].T.Sub(in[0].T).Seconds(), true
}

// reduce combines the aligned series per group of groupBy fields.
func (a aggregation) reduce(in []timeSeries) []timeSeries {
	type group struct {
		ts   timeSeries
		vals map[string][]float64 // end time → values
		ends []string
	}
	groups := map[string]*group{}
	var order []string
	for _, x := range in {
		key := ""
		var g timeSeries
		g.Metric.Type, g.Resource.Type = x.Metric.Type, x.Resource.Type
		g.Metric.Labels, g.Resource.Labels = map[string]string{}, map[string]string{}
		g.MetricKind, g.ValueType = x.MetricKind, x.ValueType
		for _, f := range a.groupBy {
			f = fieldName(f)
			if k, ok := strings.CutPrefix(f, "metric.labels."); ok {
				g.Metric.Labels[k] = x.Metric.Labels[k]
				key += "\x00" + x.Metric.Labels[k]
			} else if k, ok := strings.CutPrefix(f, "resource.labels."); ok {
				g.Resource.Labels[k] = x.Resource.Labels[k]
				key += "\x00" + x.Resource.Labels[k]
			}
		}
		gr := groups[key]
		if gr == nil {
			gr = &group{ts: g, vals: map[string][]float64{}}
			groups[key] = gr
			order = append(order, key)
		}
		for _, p := range x.Points {
			e := p.Interval.EndTime
			if _, ok := gr.vals[e]; !ok {
				gr.ends = append(gr.ends, e)
			}
			gr.vals[e] = append(gr.vals[e], p.Value["doubleValue"].(float64))
		}
	}
	var out []timeSeries
	for _, key := range order {
		gr := groups[key]
		slices.Sort(gr.ends)
		slices.Reverse(gr.ends)
		for _, e := range gr.ends {
			vs := gr.vals[e]
			v := 0.0
			switch a.reducer {
			case "REDUCE_COUNT":
				v = float64(len(vs))
			case "REDUCE_MIN":
				v = slices.Min(vs)
			case "REDUCE_MAX":
				v = slices.Max(vs)
			default:
				for _, x := range vs {
					v += x
				}
				if a.reducer == "REDUCE_MEAN" {
					v /= float64(len(vs))
				}
			}
			var p point
			p.Interval.StartTime, p.Interval.EndTime = e, e
			p.Value = valueOf(v)
			gr.ts.Points = append(gr.ts.Points, p)
		}
		out = append(out, gr.ts)
	}
	return out
}
