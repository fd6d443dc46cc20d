package gcp

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	monitoring "google.golang.org/api/monitoring/v3"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// EnvMonitoringEndpoint is gcloud's override of the Cloud Monitoring
// endpoint, honoured like the IAM and Cloud Resource Manager ones.
const EnvMonitoringEndpoint = "CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING"

// Monitoring reads time series from the Cloud Monitoring v3 API with the
// user's own credentials. It only reads.
type Monitoring struct {
	svc *monitoring.Service
}

// NewMonitoring builds the reader; endpoint overrides Google's (gcloud's
// form, "…/v3/" accepted) and, as for NewClient, a plain-http endpoint or
// Anonymous sends no credentials.
func NewMonitoring(ctx context.Context, o Options, endpoint string) (*Monitoring, error) {
	base, err := baseOptions(ctx, o.Anonymous, "to let doctor read Cloud Monitoring as you", endpoint)
	if err != nil {
		return nil, err
	}
	if endpoint != "" {
		endpoint = strings.TrimSuffix(strings.TrimSuffix(endpoint, "/"), "/v3")
	}
	svc, err := monitoring.NewService(ctx, withEndpoint(base, endpoint, o.Extra)...)
	if err != nil {
		return nil, fmt.Errorf("Cloud Monitoring client: %w", err)
	}
	return &Monitoring{svc: svc}, nil
}

// Series is one time series of a pod, newest point first.
type Series struct {
	Pod    string
	Labels map[string]string // metric and resource labels, resource ones prefixed "resource."
	Points []Point
}

// Point is one sample.
type Point struct {
	Time  time.Time
	Value float64
}

// PodSeries lists the Managed Prometheus series of metricType
// ("prometheus.googleapis.com/NAME/gauge") for the pods of namespace,
// between start and end, filtered the way the adapter filters them.
func (m *Monitoring) PodSeries(ctx context.Context, projectID, metricType, namespace string, pods []string, start, end time.Time) ([]Series, error) {
	filter := PodSeriesFilter(metricType, namespace, pods)
	call := m.svc.Projects.TimeSeries.List("projects/" + projectID).Filter(filter).
		IntervalStartTime(start.UTC().Format(time.RFC3339)).IntervalEndTime(end.UTC().Format(time.RFC3339)).View("FULL")
	var out []Series
	err := call.Pages(ctx, func(r *monitoring.ListTimeSeriesResponse) error {
		for _, ts := range r.TimeSeries {
			out = append(out, seriesOf(ts))
		}
		return nil
	})
	if err != nil {
		return nil, classify(err, "timeSeries.list on projects/"+projectID, "monitoring.timeSeries.list", identity.Config{ProjectID: projectID}.WithDefaults())
	}
	return out, nil
}

// PodSeriesFilter is the adapter's filter for a pod metric of Managed
// Prometheus: prometheus_target resources of the namespace, series whose
// pod label is one of pods.
func PodSeriesFilter(metricType, namespace string, pods []string) string {
	q := make([]string, len(pods))
	for i, p := range pods {
		q[i] = strconv.Quote(p)
	}
	f := fmt.Sprintf(`metric.type = %q AND resource.type = "prometheus_target" AND resource.labels.namespace = %q`, metricType, namespace)
	if len(pods) > 0 {
		f += " AND metric.labels.pod = one_of(" + strings.Join(q, ",") + ")"
	}
	return f
}

func seriesOf(ts *monitoring.TimeSeries) Series {
	s := Series{Labels: map[string]string{}}
	if ts.Metric != nil {
		for k, v := range ts.Metric.Labels {
			s.Labels[k] = v
		}
		s.Pod = ts.Metric.Labels["pod"]
	}
	if ts.Resource != nil {
		for k, v := range ts.Resource.Labels {
			s.Labels["resource."+k] = v
		}
	}
	for _, p := range ts.Points {
		if p.Interval == nil || p.Value == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.Interval.EndTime)
		if err != nil {
			continue
		}
		var v float64
		switch {
		case p.Value.DoubleValue != nil:
			v = *p.Value.DoubleValue
		case p.Value.Int64Value != nil:
			v = float64(*p.Value.Int64Value)
		default:
			continue
		}
		s.Points = append(s.Points, Point{Time: t, Value: v})
	}
	sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].Time.After(s.Points[j].Time) })
	return s
}
