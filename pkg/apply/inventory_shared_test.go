package apply

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A native-path inventory (HPA and AutoscalingMetric in its namespace)
// does not keep the shared adapter alive; an adapter-path one does.
func TestUsesShared(t *testing.T) {
	s := ForHPA("serve", "vllm")
	native := s.Parent([]schema.GroupKind{{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}, {Group: "autoscaling.gke.io", Kind: "AutoscalingMetric"}}, nil)
	adapter := s.Parent([]schema.GroupKind{{Group: "apiregistration.k8s.io", Kind: "APIService"}, {Group: "apps", Kind: "Deployment"}}, []string{"custom-metrics"})
	if usesShared(native) || !usesShared(adapter) {
		t.Errorf("usesShared: native %v, adapter %v", usesShared(native), usesShared(adapter))
	}
}
