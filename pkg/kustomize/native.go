package kustomize

import (
	"fmt"
	"regexp"
	"sort"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/infer-hpa/kubectl-infer-hpa/embedded"
)

// Paths: how the HPA gets its metrics (--path).
const (
	// PathAdapter is the Stackdriver adapter chain: Managed Prometheus
	// scrapes vLLM, the adapter serves Cloud Monitoring to the HPA.
	PathAdapter = "adapter"
	// PathNative is GKE's managed metrics adapter: an AutoscalingMetric
	// (autoscaling.gke.io/v1beta1) names the pods and gauges, GKE scrapes
	// them and serves them to the HPA. No adapter, no IAM.
	PathNative = "native"
	// PathAuto lets setup and diff choose from what the cluster serves; the
	// renderer itself never sees it.
	PathAuto = "auto"

	// NativeGroupVersion is the AutoscalingMetric's API group and version.
	NativeGroupVersion = "autoscaling.gke.io/v1beta1"
	// NativeKind is GKE's kind.
	NativeKind = "AutoscalingMetric"
	// NativeMetricPrefix starts every HPA metric name on the native path:
	// autoscaling.gke.io|AUTOSCALINGMETRIC|GAUGE.
	NativeMetricPrefix = "autoscaling.gke.io"
	// NativeMaxMetrics is GKE's Preview limit of unique metrics per cluster
	// ("Expose custom metrics for autoscaling"); the newer "Autoscale Pods by
	// using custom or external metrics" states 50 per node by default from
	// GKE 1.37.0-gke.3100000. Without a cluster the renderer keeps the
	// stricter one; setup and diff also count the cluster's other
	// AutoscalingMetrics (pkg/plan).
	NativeMaxMetrics = 20
)

// NativeMetricName is the name the HPA asks custom.metrics.k8s.io for, on
// the native path, for gauge of the AutoscalingMetric named object.
func NativeMetricName(object, gauge string) string {
	return NativeMetricPrefix + "|" + object + "|" + gauge
}

// nativeLabelKeyRE is what GKE accepts as a label name in the
// AutoscalingMetric's pod selector: letters, digits, hyphen and underscore
// (a Preview requirement in "Expose custom metrics for autoscaling" and
// "Autoscale Pods by using custom or external metrics"; kept for every
// version, as render has no cluster to ask).
var nativeLabelKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// validateNative checks what only the native path needs; it is a no-op on
// the adapter path.
func (o *Options) validateNative() error {
	switch o.Path {
	case PathAdapter:
		return nil
	case PathAuto:
		return fmt.Errorf("--path auto needs a cluster to choose from: render has none, so give --path adapter or --path native (setup and diff choose for you)")
	case PathNative:
	default:
		return fmt.Errorf("--path %q is not supported: use adapter, native or auto", o.Path)
	}
	if o.AutoscalingMetricName != "" || o.Deployment != "" { // else not known yet (ValidateGiven)
		if err := dns1123("--autoscalingmetric-name", "AutoscalingMetric name", o.AutoscalingMetricName, validation.IsDNS1123Subdomain); err != nil {
			return err
		}
	}
	if _, isNumber := o.MetricsPortValue().(int); !isNumber {
		return fmt.Errorf("--metrics-port %q: on --path native GKE's AutoscalingMetric takes the port number, not its name: give --metrics-port with the number of the container port", o.MetricsPort)
	}
	keys := make([]string, 0, len(o.PodSelector))
	for k := range o.PodSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !nativeLabelKeyRE.MatchString(k) {
			return fmt.Errorf("--pod-label %s: on --path native GKE accepts selector label names of letters, digits, '-' and '_' only: select the pods by another label, or use --path adapter", k)
		}
	}
	kinds := make([]MetricKind, 0, len(o.Metrics))
	for _, m := range o.Metrics {
		k, _ := LookupMetric(m.Name)
		kinds = append(kinds, k)
	}
	return NativeMetricsSupported(kinds)
}

// NativeMetricsSupported says whether GKE's AutoscalingMetric can serve these
// metrics: pod gauges only, at most NativeMaxMetrics of them (GKE's limit
// per cluster, so fewer if the cluster already exposes others).
func NativeMetricsSupported(kinds []MetricKind) error {
	if len(kinds) > NativeMaxMetrics {
		return fmt.Errorf("--path native: %d metrics asked, GKE exposes at most %d unique metrics per cluster: scale on fewer metrics, or use --path adapter", len(kinds), NativeMaxMetrics)
	}
	for _, k := range kinds {
		if k.Type != "gauge" {
			return fmt.Errorf("--metric %s: %s is a Prometheus %s, and GKE's AutoscalingMetric takes gauges only: pick a gauge, or use --path adapter", k.Name, k.PromName, k.Type)
		}
		if k.NativeComponent == "" {
			return fmt.Errorf("--metric %s is not available on --path native: GKE's AutoscalingMetric reads gauges from the selected pods' own endpoint, and GPU utilisation comes from the node's DCGM exporter (recorded as %s in Managed Prometheus), not from the vLLM pods (GKE documents PromQL-backed metrics from Cloud Monitoring on its managed adapter, which the plugin does not render): use --path adapter for %s, or scale on running, waiting or kv-cache", k.Name, k.PromName, k.Name)
		}
	}
	return nil
}

// nativeKustomization is the root kustomization of the native path: the
// workload (HPA + AutoscalingMetric, the PodMonitoring dropped), one
// native-* component per metric, the behavior, and the parameters.
func nativeKustomization(o Options, k types.Kustomization) types.Kustomization {
	lib := func(c string) string { return embedded.Root + "/components/" + c }
	k.Resources = []string{"workload", "values.yaml"}
	for _, m := range o.Metrics {
		kind, _ := LookupMetric(m.Name)
		k.Components = append(k.Components, lib(kind.NativeComponent))
	}
	k.Patches = targetPatches(o)
	if o.Behavior != BehaviorKubernetes {
		k.Components = append(k.Components, lib("behavior-"+o.Behavior))
	}
	k.Components = append(k.Components, lib("params"), lib("native-params"))
	return k
}

// workloadComponents are the components of the workload kustomization
// (where the namespace is set) on each path.
func workloadComponents(o Options) []string {
	if o.Path != PathNative {
		return nil
	}
	return []string{"../" + embedded.Root + "/components/path-native"}
}
