package discover

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestPortArg(t *testing.T) {
	cases := []struct {
		argv []string
		want int32
		ok   bool
	}{
		{[]string{"vllm", "serve", "m", "--port", "8081"}, 8081, true},
		{[]string{"--port=9000"}, 9000, true},
		{[]string{"/bin/sh", "-c", "vllm serve google/gemma --port 8081 --tensor-parallel-size 1"}, 8081, true},
		{[]string{"--port", "1", "--port=2"}, 2, true},
		{[]string{"--port", "http"}, 0, false},
		{[]string{"--portx", "1"}, 0, false},
		{nil, 0, false},
	}
	for _, c := range cases {
		got, ok := PortArg(c.argv)
		if got != c.want || ok != c.ok {
			t.Errorf("PortArg(%q) = %d, %v; want %d, %v", c.argv, got, ok, c.want, c.ok)
		}
	}
}

func TestGKENames(t *testing.T) {
	g, ok := FromContext("gke_my-project_us-central1_gpu-cluster")
	if !ok || g.Project != "my-project" || g.Location != "us-central1" || g.Cluster != "gpu-cluster" {
		t.Errorf("FromContext = %+v, %v", g, ok)
	}
	for _, bad := range []string{"kind-kind", "gke_a_b", "gke__b_c", "minikube"} {
		if _, ok := FromContext(bad); ok {
			t.Errorf("FromContext(%q) accepted", bad)
		}
	}
	p, z, ok := FromProviderID("gce://my-project/us-central1-a/gke-node-1")
	if !ok || p != "my-project" || z != "us-central1-a" {
		t.Errorf("FromProviderID = %s %s %v", p, z, ok)
	}
	if _, _, ok := FromProviderID("kind://docker/kind/node"); ok {
		t.Error("non-GCE provider ID accepted")
	}
}

func deployment(name, image string, args ...string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name + "-server"}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "main", Image: image, Args: args, Ports: []corev1.ContainerPort{{ContainerPort: 8081}},
			}}}},
		},
	}
}

func TestFindDeployment(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset(deployment("web", "nginx"), deployment("gemma", "vllm/vllm-openai:v0.10.0", "--port", "8081"))
	d, err := FindDeployment(ctx, c, "default", "")
	if err != nil || d.Name != "gemma" {
		t.Fatalf("FindDeployment = %v, %v", d, err)
	}
	tg := Inspect(d)
	if tg.Port != 8081 || tg.PodLabels["app"] != "gemma-server" || tg.Container != "main" {
		t.Fatalf("Inspect = %+v", tg)
	}
	if _, err := FindDeployment(ctx, c, "default", "nope"); err == nil || !strings.Contains(err.Error(), `"nope" not found`) {
		t.Errorf("missing deployment: %v", err)
	}
	c2 := fake.NewClientset(deployment("a", "x", "vllm", "serve"), deployment("b", "vllm/vllm-openai"))
	if _, err := FindDeployment(ctx, c2, "default", ""); err == nil || !strings.Contains(err.Error(), "(a, b)") {
		t.Errorf("two candidates: %v", err)
	}
	if _, err := FindDeployment(ctx, fake.NewClientset(), "default", ""); err == nil || !strings.Contains(err.Error(), "no Deployment running vLLM") || !strings.Contains(err.Error(), "(setup DEPLOYMENT)") {
		t.Errorf("no candidate: %v", err)
	}
	// load and tune name their own verb in the fix.
	if _, err := FindDeploymentFor(ctx, fake.NewClientset(), "default", "", "tune"); err == nil || !strings.Contains(err.Error(), "(tune DEPLOYMENT)") {
		t.Errorf("no candidate, tune: %v", err)
	}
	if _, err := FindDeploymentFor(ctx, c2, "default", "", "load"); err == nil || !strings.Contains(err.Error(), "e.g. load a") {
		t.Errorf("two candidates, load: %v", err)
	}
	if _, ok := DeclaredPort(&d.Spec.Template.Spec, "8000"); ok {
		t.Error("port 8000 is not declared")
	}
}

func TestCheckProject(t *testing.T) {
	g := GKE{Project: "cluster-project", Location: "us-central1", Cluster: "c", Source: "node n1 providerID"}
	if note, err := CheckProject("cluster-project", g, false); note != "" || err != nil {
		t.Errorf("same project: %q, %v", note, err)
	}
	if note, err := CheckProject("other-project", GKE{}, false); note != "" || err != nil {
		t.Errorf("cluster project unknown: %q, %v", note, err)
	}
	_, err := CheckProject("other-project", g, false)
	if err == nil {
		t.Fatal("a mismatch passed")
	}
	for _, want := range []string{"--project other-project", "cluster-project", "node n1 providerID", "--allow-project-mismatch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	note, err := CheckProject("other-project", g, true)
	if err != nil || !strings.Contains(note, "other-project") || !strings.Contains(note, "cluster-project") {
		t.Errorf("allowed mismatch: %q, %v", note, err)
	}
}
