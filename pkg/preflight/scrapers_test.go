package preflight

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

func monitoring(kind, ns, name string, selector map[string]any, lbls map[string]string) *unstructured.Unstructured {
	u := obj("monitoring.googleapis.com/v1", kind, ns, name, lbls)
	u.Object["spec"] = map[string]any{"selector": selector}
	return u
}

// A second scraper of the vLLM pods doubles the metric the HPA sees.
func TestCheckScrapers(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vllm", Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "vllm", "tier": "gpu"}}}}}
	o := kustomize.NewOptions()
	o.Namespace, o.Deployment = "ns", "vllm"
	o.Complete()
	ours := map[string]string{apply.LabelManagedBy: apply.ManagedBy}
	byLabel := map[string]any{"matchLabels": map[string]any{"app": "vllm"}}
	cases := []struct {
		name    string
		objs    []runtime.Object
		ok      bool
		detail  string
		fixWant string
	}{
		{"only ours", []runtime.Object{monitoring("PodMonitoring", "ns", "vllm-vllm", byLabel, ours)}, true, "no other", ""},
		{"ours by name before setup", []runtime.Object{monitoring("PodMonitoring", "ns", "vllm-vllm", byLabel, nil)}, true, "no other", ""},
		{"the tutorial's", []runtime.Object{monitoring("PodMonitoring", "ns", "vllm-vllm", byLabel, ours), monitoring("PodMonitoring", "ns", "gemma-monitoring", byLabel, nil)},
			false, "podmonitoring/gemma-monitoring -n ns", "--adopt-podmonitoring gemma-monitoring"},
		{"other namespace", []runtime.Object{monitoring("PodMonitoring", "other", "x", byLabel, nil)}, true, "no other", ""},
		{"other pods", []runtime.Object{monitoring("PodMonitoring", "ns", "x", map[string]any{"matchLabels": map[string]any{"app": "db"}}, nil)}, true, "no other", ""},
		{"cluster-wide by expression", []runtime.Object{monitoring("ClusterPodMonitoring", "", "all-gpu", map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "In", "values": []any{"gpu"}}}}, nil)},
			false, "clusterpodmonitoring/all-gpu", "kubectl delete clusterpodmonitoring/all-gpu"},
	}
	lists := map[schema.GroupVersionResource]string{podMonitoringGVR: "PodMonitoringList", clusterPodMonitoringGVR: "ClusterPodMonitoringList"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, tc.objs...)
			r := &Result{}
			checkScrapers(context.Background(), cluster.Env{Clients: apply.Clients{Dynamic: dyn}}, Input{Options: o, Deployment: d}, r)
			if len(r.Checks) != 1 {
				t.Fatalf("%d checks", len(r.Checks))
			}
			c := r.Checks[0]
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) {
				t.Errorf("got ok=%v %q, want ok=%v containing %q", c.OK, c.Detail, tc.ok, tc.detail)
			}
			if !strings.Contains(c.Fix, tc.fixWant) {
				t.Errorf("fix %q, want %q", c.Fix, tc.fixWant)
			}
		})
	}
}
