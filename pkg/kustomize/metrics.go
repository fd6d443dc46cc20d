package kustomize

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// MetricKind describes one HPA metric the library offers.
type MetricKind struct {
	// Name is what users type: --metric running=4.
	Name string
	// Component is the library component that adds it to the HPA.
	Component string
	// AdapterName is the metric name the HPA asks custom.metrics.k8s.io for.
	AdapterName string
	// Default is the component's target when none is given.
	Default string
	// Max is the largest sensible target, or "" for no bound.
	Max string
	// NeedsDCGM is true when the metric comes from the DCGM exporter.
	NeedsDCGM bool
	// NativeComponent is the component that adds it on the GKE-native path
	// (--path native), or "" when GKE's AutoscalingMetric cannot serve it.
	NativeComponent string
	// PromName is the Prometheus series the pods expose (native path).
	PromName string
	// GaugeName is the AutoscalingMetric gauge's name, the last part of the
	// name the HPA asks for on the native path.
	GaugeName string
	// Type is the Prometheus metric type of PromName; GKE's AutoscalingMetric
	// takes gauges only.
	Type string
}

// metricKinds is the catalogue of metrics, keyed by user-facing name. It is
// a function so the catalogue cannot be mutated by callers.
func metricKinds() map[string]MetricKind {
	return map[string]MetricKind{
		"running": {Name: "running", Component: "metric-running",
			AdapterName: "prometheus.googleapis.com|vllm:num_requests_running|gauge", Default: "4",
			NativeComponent: "native-running", PromName: "vllm:num_requests_running", GaugeName: "num-requests-running", Type: "gauge"},
		"waiting": {Name: "waiting", Component: "metric-waiting",
			AdapterName: "prometheus.googleapis.com|vllm:num_requests_waiting|gauge", Default: "3",
			NativeComponent: "native-waiting", PromName: "vllm:num_requests_waiting", GaugeName: "num-requests-waiting", Type: "gauge"},
		"kv-cache": {Name: "kv-cache", Component: "metric-kv-cache",
			AdapterName: "prometheus.googleapis.com|vllm:kv_cache_usage_perc|gauge", Default: "800m", Max: "1",
			NativeComponent: "native-kv-cache", PromName: "vllm:kv_cache_usage_perc", GaugeName: "kv-cache-usage-perc", Type: "gauge"},
		"gpu-util": {Name: "gpu-util", Component: "metric-gpu-util",
			AdapterName: "prometheus.googleapis.com|infer_hpa:dcgm_fi_dev_gpu_util|gauge", Default: "20", Max: "100", NeedsDCGM: true,
			PromName: "infer_hpa:dcgm_fi_dev_gpu_util", Type: "gauge"},
	}
}

// MetricNames lists the metric names users may pass to --metric.
func MetricNames() []string {
	var names []string
	for n := range metricKinds() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupMetric returns the catalogue entry for a user-facing metric name.
func LookupMetric(name string) (MetricKind, bool) {
	k, ok := metricKinds()[name]
	return k, ok
}

// Metric is one metric the HPA scales on, with an optional target.
type Metric struct {
	Name string
	// Target overrides the component's default when not nil.
	Target *resource.Quantity
}

// ParseMetric parses NAME or NAME=TARGET, as given to --metric.
func ParseMetric(s string) (Metric, error) {
	name, target, hasTarget := strings.Cut(strings.TrimSpace(s), "=")
	kind, ok := LookupMetric(name)
	if !ok {
		return Metric{}, fmt.Errorf("--metric %q: unknown metric %q: use one of %s, optionally with =TARGET", s, name, strings.Join(MetricNames(), ", "))
	}
	m := Metric{Name: name}
	if !hasTarget {
		return m, nil
	}
	q, err := resource.ParseQuantity(target)
	if err != nil {
		return Metric{}, fmt.Errorf("--metric %q: target %q is not a number: use e.g. %s=%s", s, target, name, kind.Default)
	}
	if q.Sign() <= 0 {
		return Metric{}, fmt.Errorf("--metric %q: target must be greater than 0: use e.g. %s=%s", s, name, kind.Default)
	}
	if kind.Max != "" && q.Cmp(resource.MustParse(kind.Max)) > 0 {
		return Metric{}, fmt.Errorf("--metric %q: target %s is above %s, the largest value %s can take: use e.g. %s=%s", s, target, kind.Max, name, name, kind.Default)
	}
	m.Target = &q
	return m, nil
}
