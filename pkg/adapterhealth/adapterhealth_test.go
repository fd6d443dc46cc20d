package adapterhealth

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// The real adapter's fatal line without roles/monitoring.viewer, as klog
// prints it (adapter.go: klog.Fatalf("Failed request to stackdriver api: %s", err)).
const denied = `I1201 20:00:00.000000       1 adapter.go:200] starting
F1201 20:00:01.123456       1 adapter.go:153] Failed request to stackdriver api: googleapi: Error 403: Permission monitoring.metricDescriptors.list denied (or the resource may not exist)., forbidden`

func TestFatalLine(t *testing.T) {
	l, ok := FatalLine(denied)
	if !ok || !strings.HasPrefix(l, "Failed request to stackdriver api: googleapi: Error 403") {
		t.Fatalf("FatalLine = %q, %v", l, ok)
	}
	if !(Diagnosis{Fatal: l}).IAMDenied() {
		t.Error("a 403 is not seen as IAM")
	}
	if (Diagnosis{Fatal: "Failed request to stackdriver api: dial tcp: i/o timeout"}).IAMDenied() {
		t.Error("a network error is seen as IAM")
	}
	g, ok := FatalLine("F1201 1 adapter.go:135] Failed to retrieve GCE config: metadata: GCE metadata not defined")
	if !ok || !(Diagnosis{Fatal: g}).NoMetadataServer() {
		t.Errorf("GCE config: %q %v", g, ok)
	}
	if _, ok := FatalLine("I1201 serving on 443"); ok {
		t.Error("a normal log has no fatal line")
	}
}

func pod(name string, ready bool, cs corev1.ContainerStatus) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "custom-metrics", Labels: map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"}},
		Status: corev1.PodStatus{
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
			ContainerStatuses: []corev1.ContainerStatus{cs},
		},
	}
}

func TestDiagnoseCrashLoop(t *testing.T) {
	crashing := corev1.ContainerStatus{
		Name: "pod-custom-metrics-stackdriver-adapter", RestartCount: 3,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 255, Message: denied}},
	}
	kube := fake.NewClientset(pod("ok", true, corev1.ContainerStatus{Name: "a"}), pod("bad", false, crashing))
	d, err := Diagnose(context.Background(), kube, "custom-metrics", map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Pod != "bad" || d.Waiting != "CrashLoopBackOff" || d.Restarts != 3 || !d.IAMDenied() {
		t.Fatalf("Diagnose = %+v", d)
	}
	for _, want := range []string{"pod bad CrashLoopBackOff (3 restarts)", "Error 403", "monitoring.metricDescriptors.list"} {
		if !strings.Contains(d.String(), want) {
			t.Errorf("%q lacks %q", d, want)
		}
	}

	d, err = Diagnose(context.Background(), fake.NewClientset(pod("ok", true, corev1.ContainerStatus{Name: "a"})), "custom-metrics", map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"})
	if err != nil || d.Found() || d.Pod != "" {
		t.Errorf("a ready adapter: %+v %v", d, err)
	}
}
