package load

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func vllmPod(name string, labels map[string]string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

// A Deployment that selects its pods with matchExpressions only is a
// target like any other: its Ready pods are the ones the expressions match.
func TestResolveDeploymentMatchExpressions(t *testing.T) {
	sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"gemma-server", "gemma-canary"}},
		{Key: "tier", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"batch"}},
	}}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "gemma", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Selector: sel, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "server", Image: "vllm/vllm-openai", Args: []string{"--port=8081"}}}}}}}
	kube := fake.NewClientset(d,
		vllmPod("a", map[string]string{"app": "gemma-server"}, true),
		vllmPod("b", map[string]string{"app": "gemma-canary"}, true),
		vllmPod("c", map[string]string{"app": "gemma-server", "tier": "batch"}, true),
		vllmPod("d", map[string]string{"app": "gemma-server"}, false),
		vllmPod("e", map[string]string{"app": "other"}, true))
	ctx := context.Background()
	for _, name := range []string{"deploy/gemma", ""} {
		r, err := Resolve(ctx, kube, "default", name, 0)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", name, err)
		}
		pods, err := r.Pods(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range pods {
			if p.Port != 8081 {
				t.Errorf("pod %s on port %d, want vLLM's --port 8081", p.Name, p.Port)
			}
			got = append(got, p.Name)
		}
		if strings.Join(got, ",") != "a,b" {
			t.Errorf("Resolve(%q) pods %v, want the Ready pods the expressions match: a,b", name, got)
		}
	}
	// No vLLM Deployment: the fix names load, not setup.
	if _, err := Resolve(ctx, fake.NewClientset(), "default", "", 0); err == nil || !strings.Contains(err.Error(), "(load DEPLOYMENT)") {
		t.Errorf("no vLLM Deployment: %v", err)
	}
}
