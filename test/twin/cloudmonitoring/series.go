package cloudmonitoring

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
)

// Managed Prometheus writes every series as a prometheus_target resource
// with these labels; all other labels are metric labels.
const (
	prometheusDomain = "prometheus.googleapis.com/"
	prometheusTarget = "prometheus_target"
)

var resourceLabels = []string{"project_id", "location", "cluster", "namespace", "job", "instance"}

// metricType is a series' Cloud Monitoring type,
// prometheus.googleapis.com/NAME/KIND (the name keeps its case).
func metricType(sr gmp.Series) string {
	kind := sr.Kind
	if kind == "" {
		kind = gmp.Gauge
	}
	return prometheusDomain + sr.Labels.Get(model.MetricNameLabel) + "/" + string(kind)
}

func metricKind(k gmp.Kind) string {
	if k == gmp.Counter {
		return "CUMULATIVE"
	}
	return "GAUGE"
}

// fields are a series' filterable fields.
func fields(sr gmp.Series) map[string]string {
	f := map[string]string{"metric.type": metricType(sr), "resource.type": prometheusTarget}
	sr.Labels.Range(func(l labels.Label) {
		switch {
		case l.Name == model.MetricNameLabel:
		case slices.Contains(resourceLabels, l.Name):
			f["resource.labels."+l.Name] = l.Value
		default:
			f["metric.labels."+l.Name] = l.Value
		}
	})
	return f
}

func split(sr gmp.Series) (metric, resource map[string]string) {
	metric, resource = map[string]string{}, map[string]string{}
	sr.Labels.Range(func(l labels.Label) {
		switch {
		case l.Name == model.MetricNameLabel:
		case slices.Contains(resourceLabels, l.Name):
			resource[l.Name] = l.Value
		default:
			metric[l.Name] = l.Value
		}
	})
	return metric, resource
}

// all is every series of the project with its points of the last hour.
func (s *Server) all(project string, from, to time.Time) []gmp.Series {
	if s.Store == nil {
		return nil
	}
	return s.Store.Select(from, to, labels.MustNewMatcher(labels.MatchEqual, "project_id", project))
}

type descriptor struct {
	Name                   string        `json:"name"`
	Type                   string        `json:"type"`
	MetricKind             string        `json:"metricKind"`
	ValueType              string        `json:"valueType"`
	Labels                 []labelDesc   `json:"labels,omitempty"`
	Description            string        `json:"description,omitempty"`
	MonitoredResourceTypes []string      `json:"monitoredResourceTypes"`
	Metadata               *descMetadata `json:"metadata,omitempty"`
}

type labelDesc struct {
	Key string `json:"key"`
}

type descMetadata struct {
	LaunchStage string `json:"launchStage,omitempty"`
}

func describe(project string, sr gmp.Series, keys []string) descriptor {
	t := metricType(sr)
	d := descriptor{Name: "projects/" + project + "/metricDescriptors/" + t, Type: t,
		MetricKind: metricKind(sr.Kind), ValueType: "DOUBLE", MonitoredResourceTypes: []string{prometheusTarget},
		Description: "Prometheus metric " + sr.Labels.Get(model.MetricNameLabel) + " (the twin's Managed Prometheus emulation)."}
	for _, k := range keys {
		d.Labels = append(d.Labels, labelDesc{Key: k})
	}
	return d
}

func (s *Server) descriptors(project string, keep func(gmp.Series) bool) []descriptor {
	now := s.now()
	byType := map[string]*gmp.Series{}
	keys := map[string]map[string]bool{}
	var order []string
	for _, sr := range s.all(project, now.Add(-24*time.Hour), now) {
		if !keep(sr) {
			continue
		}
		t := metricType(sr)
		if byType[t] == nil {
			sr := sr
			byType[t], keys[t] = &sr, map[string]bool{}
			order = append(order, t)
		}
		m, _ := split(sr)
		for k := range m {
			keys[t][k] = true
		}
	}
	slices.Sort(order)
	out := []descriptor{}
	for _, t := range order {
		var ks []string
		for k := range keys[t] {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		out = append(out, describe(project, *byType[t], ks))
	}
	return out
}

func (s *Server) listDescriptors(project, filterText string) (any, *apiError) {
	f, err := parseFilter(filterText)
	if err != nil {
		return nil, invalid(err.Error())
	}
	ds := s.descriptors(project, func(sr gmp.Series) bool { return f.match(fields(sr)) })
	if len(ds) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"metricDescriptors": ds}, nil
}

func (s *Server) getDescriptor(project, typ string) (any, *apiError) {
	ds := s.descriptors(project, func(sr gmp.Series) bool { return metricType(sr) == typ })
	if len(ds) == 0 {
		return nil, &apiError{Code: 404, Status: "NOT_FOUND", Reason: "notFound",
			Message: fmt.Sprintf("Could not find descriptor for metric '%s'.", typ)}
	}
	return ds[0], nil
}

type point struct {
	Interval struct {
		StartTime string `json:"startTime"`
		EndTime   string `json:"endTime"`
	} `json:"interval"`
	Value map[string]any `json:"value"`
}

type timeSeries struct {
	Metric struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels,omitempty"`
	} `json:"metric"`
	Resource struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"resource"`
	MetricKind string  `json:"metricKind"`
	ValueType  string  `json:"valueType"`
	Points     []point `json:"points"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseDuration(s string) (time.Duration, error) {
	sec, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0, fmt.Errorf("want seconds like \"60s\"")
	}
	f, err := strconv.ParseFloat(sec, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("want a positive duration like \"60s\"")
	}
	return time.Duration(f * float64(time.Second)), nil
}

func (s *Server) listTimeSeries(project string, q url.Values) (any, *apiError) {
	f, err := parseFilter(q.Get("filter"))
	if err != nil {
		return nil, invalid(err.Error())
	}
	types := 0
	for _, t := range f {
		if t.field == "metric.type" && t.op == "=" && !t.not {
			types++
		}
	}
	if types != 1 {
		return nil, invalid("Field filter had an invalid value: a filter must specify exactly one metric type: \"metric.type = ...\".")
	}
	end, err := time.Parse(time.RFC3339Nano, q.Get("interval.endTime"))
	if err != nil {
		return nil, invalid("Field interval.endTime had an invalid value of \"" + q.Get("interval.endTime") + "\": RFC 3339 timestamp wanted.")
	}
	start := end
	if v := q.Get("interval.startTime"); v != "" {
		if start, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return nil, invalid("Field interval.startTime had an invalid value of \"" + v + "\": RFC 3339 timestamp wanted.")
		}
	}
	if start.After(end) {
		return nil, invalid("The start time must be before the end time.")
	}
	agg := aggregation{aligner: q.Get("aggregation.perSeriesAligner"), reducer: q.Get("aggregation.crossSeriesReducer"),
		groupBy: q["aggregation.groupByFields"]}
	if v := q.Get("aggregation.alignmentPeriod"); v != "" {
		if agg.period, err = parseDuration(v); err != nil {
			return nil, invalid("Field aggregation.alignmentPeriod had an invalid value of \"" + v + "\": " + err.Error())
		}
	}
	if aerr := agg.validate(); aerr != nil {
		return nil, aerr
	}
	// Points older than the start are read too: an aligner may need the
	// sample before its window.
	lookback := agg.period
	var out []timeSeries
	for _, sr := range s.all(project, start.Add(-lookback), end) {
		if !f.match(fields(sr)) {
			continue
		}
		if aerr := agg.kindOK(sr.Kind); aerr != nil {
			return nil, aerr
		}
		pts := agg.align(sr, start, end)
		if len(pts) == 0 {
			continue
		}
		var x timeSeries
		m, r := split(sr)
		x.Metric.Type, x.Metric.Labels = metricType(sr), m
		x.Resource.Type, x.Resource.Labels = prometheusTarget, r
		x.MetricKind, x.ValueType = metricKind(sr.Kind), "DOUBLE"
		if agg.aligner == "ALIGN_RATE" {
			x.MetricKind = "GAUGE"
		}
		x.Points = pts
		out = append(out, x)
	}
	if agg.reducer != "" && agg.reducer != "REDUCE_NONE" {
		out = agg.reduce(out)
	}
	if len(out) == 0 {
		return map[string]any{"unit": ""}, nil
	}
	return map[string]any{"timeSeries": out, "unit": ""}, nil
}
