package watch

import (
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// NoAdapterReason takes the adapter log panel's place on the native path.
const NoAdapterReason = "no adapter log: this HPA reads GKE's AutoscalingMetric gauges (the native path), served by GKE's managed metrics adapter; no Stackdriver adapter runs for it"

// nativeHPA says whether an HPA's Pods metrics are GKE's native ones
// (autoscaling.gke.io|AUTOSCALINGMETRIC|GAUGE).
func nativeHPA(h *autoscalingv2.HorizontalPodAutoscaler) bool {
	for _, m := range h.Spec.Metrics {
		if m.Pods != nil && strings.HasPrefix(m.Pods.Metric.Name, "autoscaling.gke.io|") {
			return true
		}
	}
	return false
}
