package plan

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/test/kubefake"
)

// vllm is the tutorial's Deployment: vLLM on --port=8081, no declared port.
func vllm(name string, selector *metav1.LabelSelector, podLabels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: selector,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "inference-server", Image: "vllm/vllm-openai:v0.11.0",
					Args: []string{"--model=google/gemma-3-1b-it", "--port=8081"},
				}}},
			},
		},
	}
}

func gkeNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"iam.gke.io/gke-metadata-server-enabled": "true"}},
		Spec:       corev1.NodeSpec{ProviderID: "gce://my-project/us-central1-a/" + name},
	}
}

func envOf(c *kubefake.Cluster) cluster.Env {
	return cluster.Env{Kube: c.Kube, Clients: apply.Clients{Dynamic: c.Dynamic, Mapper: c.Mapper}}
}

func tutorialOptions() kustomize.Options {
	o := kustomize.NewOptions()
	o.Namespace = "default"
	return o
}

var matchLabels = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "gemma-server"}}

// exprsOnly selects the pods with matchExpressions only.
var exprsOnly = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
	{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"gemma-server"}},
}}

func TestBuildInfersFromTheDeployment(t *testing.T) {
	c := kubefake.New([]runtime.Object{vllm("gemma", matchLabels, map[string]string{"app": "gemma-server"}), gkeNode("n1")})
	p, err := Build(context.Background(), envOf(c), Input{Options: tutorialOptions()})
	if err != nil {
		t.Fatal(err)
	}
	o := p.Options
	if o.Deployment != "gemma" || o.MetricsPort != "8081" || o.PodSelector["app"] != "gemma-server" || o.Project != "my-project" {
		t.Errorf("inferred %+v", o)
	}
	if o.DCGM != kustomize.DCGMOff {
		t.Errorf("no GPU metric and no managed DCGM: --dcgm %s, want off", o.DCGM)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{"deployment default/gemma (the only Deployment running vLLM in the namespace)", "pods app=gemma-server", "metrics on port 8081/metrics", "GKE project my-project"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}

// Issue 11, item 14: a selector with matchExpressions only asks for
// --pod-label, and with it (and --metrics-port) plans without a panic.
func TestBuildMatchExpressionsOnly(t *testing.T) {
	ctx := context.Background()
	c := kubefake.New([]runtime.Object{vllm("gemma", exprsOnly, map[string]string{"app": "gemma-server", "tier": "llm"}), gkeNode("n1")})
	env := envOf(c)

	_, err := Build(ctx, env, Input{Options: tutorialOptions()})
	if err == nil || !strings.Contains(err.Error(), "--pod-label") {
		t.Fatalf("without --pod-label: want the error naming --pod-label, got %v", err)
	}

	for _, port := range []string{"", "8081"} {
		o := tutorialOptions()
		o.PodSelector = map[string]string{"app": "gemma-server"}
		o.MetricsPort = port
		flags := "--pod-label, --metrics-port " + port
		p, _, err := Make(ctx, env, Input{Options: o})
		if err != nil {
			t.Fatalf("%v: %v", flags, err)
		}
		if p.Options.PodSelector["app"] != "gemma-server" || p.Target.Port != 8081 {
			t.Errorf("%v: planned %+v", flags, p.Options)
		}
	}

	o := tutorialOptions()
	o.PodSelector = map[string]string{"app": "other"}
	_, err = Build(ctx, env, Input{Options: o})
	if err == nil || !strings.Contains(err.Error(), "does not select the pods") {
		t.Errorf("a --pod-label the pods lack: %v", err)
	}
}

// Issue 11, item 15: Make (which setup and diff both call) disowns what
// preflight found foreign, and leaves existing namespaces out.
func TestMakeDisownsForeign(t *testing.T) {
	ctx := context.Background()
	foreignSvc := kubefake.Object("v1", "Service", "custom-metrics", "custom-metrics-stackdriver-adapter", nil, map[string]any{"ports": []any{map[string]any{"port": int64(443)}}})
	ns := kubefake.Object("v1", "Namespace", "", "custom-metrics", nil, nil)
	c := kubefake.New([]runtime.Object{vllm("gemma", matchLabels, map[string]string{"app": "gemma-server"}), gkeNode("n1")}, foreignSvc, ns)
	env := envOf(c)

	_, res, err := Make(ctx, env, Input{Options: tutorialOptions()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Err() == nil || !strings.Contains(res.Err().Error(), "existing objects") {
		t.Errorf("a foreign Service without --force-conflicts: want the existing-objects check to fail, got %v", res.Err())
	}

	p, res, err := Make(ctx, env, Input{Options: tutorialOptions(), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("with --force-conflicts: %v", err)
	}
	var svc *unstructured.Unstructured
	for _, o := range p.Objects {
		if o.GetKind() == "Namespace" && o.GetName() == "custom-metrics" {
			t.Error("an existing namespace stays in the plan")
		}
		if o.GetKind() == "Service" {
			svc = o
		}
	}
	if svc == nil {
		t.Fatal("the adapter Service is not planned")
	}
	if _, ok := svc.GetLabels()[apply.LabelPartOf]; ok {
		t.Errorf("the foreign Service would join the inventory: %v", svc.GetLabels())
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "namespace custom-metrics exists and is not ours") {
		t.Errorf("notes: %v", p.Notes)
	}
}

// Ownership rule 5: a PodMonitoring adopted by name (--adopt-podmonitoring)
// is not foreign: preflight passes without --force-conflicts and it stays a
// member of the inventory, so cleanup deletes it.
func TestMakeAdoptsPodMonitoring(t *testing.T) {
	ctx := context.Background()
	theirs := kubefake.Object("monitoring.googleapis.com/v1", "PodMonitoring", "default", "gemma-monitoring", nil,
		map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "gemma-server"}}})
	c := kubefake.New([]runtime.Object{vllm("gemma", matchLabels, map[string]string{"app": "gemma-server"}), gkeNode("n1")}, theirs)
	o := tutorialOptions()
	o.PodMonitoringName = "gemma-monitoring" // what planFlags sets for --adopt-podmonitoring
	p, res, err := Make(ctx, envOf(c), Input{Options: o, Adopt: "gemma-monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	for _, chk := range res.Checks {
		if chk.Name == "existing objects" && !chk.OK {
			t.Errorf("the adopted PodMonitoring is reported foreign: %s", chk.Detail)
		}
	}
	var pm *unstructured.Unstructured
	for _, obj := range p.Objects {
		if obj.GetKind() == "PodMonitoring" {
			pm = obj
		}
	}
	if pm == nil || pm.GetName() != "gemma-monitoring" || pm.GetLabels()[apply.LabelPartOf] != p.Set.ID() || !apply.Ours(pm) {
		t.Fatalf("the adopted PodMonitoring is not a member of the inventory: %v", pm)
	}
	// Without adopting it, the same object is foreign.
	_, res, err = Make(ctx, envOf(c), Input{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	if res.Err() == nil || !strings.Contains(res.Err().Error(), "existing objects") {
		t.Errorf("not adopted: want the existing-objects check to fail, got %v", res.Err())
	}
}
