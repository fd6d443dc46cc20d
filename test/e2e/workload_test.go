package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

// namespace creates a fresh namespace for a test and deletes it after.
func namespace(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	_, err := cluster.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// vllmDeployment is the tutorial's Deployment, simulated: kwok runs its
// pods on the GPU nodes and marks them Ready.
func vllmDeployment(t *testing.T, ns, name, app string, port int32, declarePort bool) *appsv1.Deployment {
	t.Helper()
	one := int32(1)
	c := corev1.Container{
		Name: "inference-server", Image: "vllm/vllm-openai:latest",
		Command: []string{"python3", "-m", "vllm.entrypoints.openai.api_server"},
		Args:    []string{"--model=google/gemma-3-1b-it", "--tensor-parallel-size=1", "--host=0.0.0.0", fmt.Sprintf("--port=%d", port)},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")},
			Limits:   corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")},
		},
	}
	if declarePort {
		c.Ports = []corev1.ContainerPort{{ContainerPort: port, Name: "http"}}
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
				Spec: corev1.PodSpec{
					Containers:   []corev1.Container{c},
					Tolerations:  []corev1.Toleration{{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
					NodeSelector: map[string]string{"cloud.google.com/gke-accelerator": "nvidia-l4"},
				},
			},
		},
	}
	got, err := cluster.kube.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

var (
	apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	podMonGVR     = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "podmonitorings"}
	cpmGVR        = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "clusterpodmonitorings"}
	clusterRules  = schema.GroupVersionResource{Group: "monitoring.googleapis.com", Version: "v1", Resource: "clusterrules"}
	hpaGVR        = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
	metricAPIs    = []string{"v1beta1.custom.metrics.k8s.io", "v1beta2.custom.metrics.k8s.io"}
)

func get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	if ns == "" {
		return cluster.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	}
	return cluster.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
}

func mustNotExist(t *testing.T, gvr schema.GroupVersionResource, ns, name string) {
	t.Helper()
	if _, err := get(context.Background(), gvr, ns, name); !apierrors.IsNotFound(err) {
		t.Errorf("%s %s/%s: want NotFound, got %v", gvr.Resource, ns, name, err)
	}
}

// condition reads a status condition of a live object.
func condition(u *unstructured.Unstructured, typ string) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			return fmt.Sprint(m["status"]), fmt.Sprint(m["reason"]), fmt.Sprint(m["message"])
		}
	}
	return "", "", ""
}

// eventually polls f until it returns "" or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func(ctx context.Context) string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		last = f(ctx)
		return last == "", nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s: %s", what, timeout, last)
	}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}
