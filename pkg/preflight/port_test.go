package preflight

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// The tutorial's Deployment declares no container port: vLLM serves on
// --port=8081 and Managed Prometheus scrapes that number on the pod IP.
func TestCheckMetricsPort(t *testing.T) {
	tutorial := func(ports ...corev1.ContainerPort) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "vllm-gemma-deployment"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "gemma-server"}},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:    "inference-server",
					Command: []string{"python3", "-m", "vllm.entrypoints.openai.api_server"},
					Args:    []string{"--model=$(MODEL_ID)", "--port=8081"},
					Ports:   ports,
				}}}},
			},
		}
	}
	cases := []struct {
		name   string
		d      *appsv1.Deployment
		port   string
		ok     bool
		detail string
	}{
		{"tutorial: undeclared --port", tutorial(), "8081", true, "listens on 8081"},
		{"declared number", tutorial(corev1.ContainerPort{ContainerPort: 9000}), "9000", true, "declares port 9000"},
		{"declared name", tutorial(corev1.ContainerPort{Name: "metrics", ContainerPort: 8081}), "metrics", true, "declares port 8081"},
		{"undeclared name", tutorial(), "metrics", false, "neither declares"},
		{"number vLLM does not serve", tutorial(), "8000", false, "neither declares"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := kustomize.NewOptions()
			o.MetricsPort = tc.port
			r := &Result{}
			checkMetricsPort(context.Background(), cluster.Env{}, Input{Options: o, Deployment: tc.d}, r)
			if len(r.Checks) != 1 {
				t.Fatalf("%d checks", len(r.Checks))
			}
			c := r.Checks[0]
			if c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) {
				t.Errorf("got ok=%v %q, want ok=%v containing %q", c.OK, c.Detail, tc.ok, tc.detail)
			}
			if !c.OK && c.Fix == "" {
				t.Error("a failed check without a fix")
			}
		})
	}
}
