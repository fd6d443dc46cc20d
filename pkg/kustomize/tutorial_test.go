package kustomize

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The tutorial's own objects (seans3/k8s-ai vllm-gpu/hpa), written from the
// facts in DESIGN.md: what `render` with the tutorial's values must match.
const tutorialHPASpec = `
scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: vllm-gemma-deployment}
minReplicas: 1
maxReplicas: 5
metrics:
- type: Pods
  pods:
    metric: {name: "prometheus.googleapis.com|vllm:num_requests_running|gauge"}
    target: {type: AverageValue, averageValue: "4"}
behavior:
  scaleDown:
    stabilizationWindowSeconds: 30
    policies:
    - {type: Percent, value: 100, periodSeconds: 15}
`

const tutorialPodMonitoringSpec = `
selector:
  matchLabels: {app: gemma-server}
endpoints:
- {port: 8081, path: /metrics, interval: 15s}
`

const tutorialAPIServiceSpec = `
group: custom.metrics.k8s.io
version: v1beta2
insecureSkipTLSVerify: true
groupPriorityMinimum: 100
versionPriority: 200
service: {name: custom-metrics-stackdriver-adapter, namespace: custom-metrics}
`

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

func assertSpec(t *testing.T, obj *unstructured.Unstructured, want string) {
	t.Helper()
	var w map[string]any
	if err := yaml.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	// Compare through JSON types so 4 (int64) and 4 (float64) agree.
	b, _ := yaml.Marshal(obj.Object["spec"])
	var got map[string]any
	_ = yaml.Unmarshal(b, &got)
	if !equality.Semantic.DeepEqual(got, w) {
		t.Errorf("%s/%s spec:\n%s\nwant the tutorial's:\n%s", obj.GetKind(), obj.GetName(), b, want)
	}
}

func TestTutorialReproduced(t *testing.T) {
	res, err := Render(complete(tutorial()))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := res.Objects()
	if err != nil {
		t.Fatal(err)
	}
	assertSpec(t, find(t, objs, "HorizontalPodAutoscaler", ""), tutorialHPASpec)
	assertSpec(t, find(t, objs, "PodMonitoring", ""), tutorialPodMonitoringSpec)
	assertSpec(t, find(t, objs, "APIService", "v1beta2.custom.metrics.k8s.io"), tutorialAPIServiceSpec)

	adapter := find(t, objs, "Deployment", "custom-metrics-stackdriver-adapter")
	containers, _, _ := unstructured.NestedSlice(adapter.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != DefaultAdapterImage {
		t.Errorf("adapter image %v, want %s", c["image"], DefaultAdapterImage)
	}
	cmd, _ := c["command"].([]any)
	if len(cmd) < 3 || cmd[1] != "--use-new-resource-model=true" || cmd[2] != "--fallback-for-container-metrics=true" {
		t.Errorf("adapter command %v lacks the tutorial's flags", cmd)
	}
	ksa := find(t, objs, "ServiceAccount", "custom-metrics-stackdriver-adapter")
	if got := ksa.GetAnnotations()["iam.gke.io/gcp-service-account"]; got != "metrics-adapter-gsa@my-project.iam.gserviceaccount.com" {
		t.Errorf("KSA annotation %q, want the tutorial's GSA", got)
	}
	if ksa.GetNamespace() != "custom-metrics" {
		t.Errorf("KSA namespace %q, want custom-metrics", ksa.GetNamespace())
	}
}

// TestNoReplicasOnTargets: nothing we render sets replicas on the vLLM
// Deployment (the HPA owns it), and nothing is rendered for it at all.
func TestNoReplicasOnTargets(t *testing.T) {
	for name, o := range allVariants() {
		res, err := Render(complete(o))
		if err != nil {
			t.Fatal(err)
		}
		objs, _ := res.Objects()
		for _, obj := range objs {
			if obj.GetKind() == "Deployment" && obj.GetName() != "custom-metrics-stackdriver-adapter" {
				t.Errorf("%s: renders Deployment %s; the vLLM Deployment must never be applied", name, obj.GetName())
			}
			if obj.GetKind() == "Values" {
				t.Errorf("%s: the local-config Values object leaked into the output", name)
			}
		}
	}
}

func TestPrincipalModeLeavesKSAUnannotated(t *testing.T) {
	res, err := Render(complete(variants()["defaults"]))
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := res.Objects()
	if a := find(t, objs, "ServiceAccount", "custom-metrics-stackdriver-adapter").GetAnnotations(); len(a) != 0 {
		t.Errorf("principal mode annotated the KSA: %v", a)
	}
}
