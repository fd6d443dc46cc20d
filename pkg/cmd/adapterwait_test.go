package cmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

const fatal403 = "F1201 20:00:01.123456       1 adapter.go:153] Failed request to stackdriver api: googleapi: Error 403: Permission monitoring.metricDescriptors.list denied (or the resource may not exist)., forbidden"

func crashingAdapter() (*fake.Clientset, *unstructured.Unstructured) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "adapter-1", Namespace: "custom-metrics", Labels: map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name: "adapter", RestartCount: 2,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 255, Message: fatal403}},
		}}},
	}
	d := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "custom-metrics-stackdriver-adapter", "namespace": "custom-metrics"},
		"spec":     map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"k8s-app": "custom-metrics-stackdriver-adapter"}}}}}
	return fake.NewClientset(p), d
}

// Issue 11, item 1: with --skip-iam or --print-gcloud an adapter that exits
// for want of IAM ends the wait as the one remaining step, with the grant.
func TestAdapterWaitDefersIAM(t *testing.T) {
	kube, live := crashingAdapter()
	w := &adapterWait{kube: kube, deferIAM: true, grant: "grant the adapter roles/monitoring.viewer:\n  gcloud projects add-iam-policy-binding p"}
	_, err := w.explain(context.Background(), live)
	var d *apply.Deferred
	if !errors.As(err, &d) {
		t.Fatalf("want *apply.Deferred, got %v", err)
	}
	for _, want := range []string{"Error 403", "gcloud projects add-iam-policy-binding p", "restarts by itself"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason lacks %q:\n%s", want, d.Reason)
		}
	}
}

// After setup granted the role itself it keeps waiting, saying why, and a
// wait that still fails ends with the cause and the grant.
func TestAdapterWaitExplainsAfterGrant(t *testing.T) {
	kube, live := crashingAdapter()
	w := &adapterWait{kube: kube, grant: "the grant"}
	why, err := w.explain(context.Background(), live)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(why, "pod adapter-1 CrashLoopBackOff (2 restarts): exits with: Failed request to stackdriver api: googleapi: Error 403") {
		t.Errorf("explain = %q", why)
	}
	if a := w.advice(); !strings.Contains(a, "propagating") || !strings.Contains(a, "the grant") {
		t.Errorf("advice = %q", a)
	}
	other := live.DeepCopy()
	other.SetName("someone-else")
	if why, err := w.explain(context.Background(), other); why != "" || err != nil {
		t.Errorf("another Deployment: %q %v", why, err)
	}
}
