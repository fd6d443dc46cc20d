package watch

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

type staticMetrics map[string]float64

func (s staticMetrics) PodValues(_ context.Context, _, metric, selector string) (map[string]float64, error) {
	if metric != metricName || selector != "app=gemma-server" {
		return nil, nil
	}
	return s, nil
}

// runUntil runs a watcher over a fake clientset until cond holds for a
// snapshot, and returns that snapshot.
func runUntil(t *testing.T, w *Watcher, cond func(Snapshot) bool) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got Snapshot
	var ok bool
	var last Snapshot
	_ = w.Run(ctx, func(s Snapshot) {
		last = s
		if !ok && cond(s) {
			mu.Lock()
			got, ok = s, true
			mu.Unlock()
			cancel()
		}
	})
	if !ok {
		t.Fatalf("no snapshot met the condition within 10s; last: %+v", last)
	}
	return got
}

func newTestWatcher(c *fake.Clientset) *Watcher {
	return New(Options{
		Client: c, Metrics: staticMetrics{"vllm-a": 7, "vllm-b": 6}, Context: "twin",
		Target:           Target{Namespace: ns, HPA: "vllm-hpa", Deployment: "vllm", PodSelector: "app=gemma-server"},
		AdapterNamespace: "custom-metrics", Tick: 10 * time.Millisecond, MetricsInterval: 50 * time.Millisecond,
	})
}

func TestWatcherBuildsSnapshotFromInformers(t *testing.T) {
	labels := map[string]string{"app": "gemma-server"}
	c := fake.NewClientset(testHPA(2, 3), testDeployment(),
		testPod("vllm-a", ns, labels, true), testPod("vllm-b", ns, labels, false),
		testPod("other", ns, map[string]string{"app": "other"}, true),
		testEvent("e1", "HorizontalPodAutoscaler", "vllm-hpa", "SuccessfulRescale", "New size: 3; reason: pods metric above target", t0),
		testEvent("e0", "Deployment", "vllm", "ScalingReplicaSet", "Scaled up replica set vllm-1 from 2 to 3", t0.Add(-time.Second)),
		testEvent("e9", "Pod", "unrelated", "Pulled", "not about us", t0.Add(time.Second)),
		testPod("custom-metrics-stackdriver-adapter-1", "custom-metrics", map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"}, true),
	)
	s := runUntil(t, newTestWatcher(c), func(s Snapshot) bool {
		return s.HPA != nil && len(s.Pods) == 2 && len(s.Events) == 2 && len(s.Logs) > 1 &&
			len(s.Metrics) == 1 && len(s.Metrics[0].PerPod) == 2
	})
	if s.HPA.CurrentReplicas != 2 || s.HPA.DesiredReplicas != 3 || s.HPA.MinReplicas != 1 || s.HPA.MaxReplicas != 5 {
		t.Errorf("HPA = %+v", s.HPA)
	}
	if s.HPA.LastScaleReason != "New size: 3; reason: pods metric above target" {
		t.Errorf("last scale reason = %q", s.HPA.LastScaleReason)
	}
	if !strings.HasPrefix(s.HPA.Behavior, "up: stab 0s") || !strings.Contains(s.HPA.Behavior, "down: stab 300s") {
		t.Errorf("behavior = %q", s.HPA.Behavior)
	}
	m := s.Metrics[0]
	if !m.HasCurrent || m.Current != 6.5 || m.Target != 4 || m.PerPod["vllm-a"] != 7 {
		t.Errorf("metric = %+v", m)
	}
	if s.Events[0].Reason != "SuccessfulRescale" || s.Events[1].Reason != "ScalingReplicaSet" {
		t.Errorf("events not newest first / filtered: %+v", s.Events)
	}
	if s.Pods[0].Name != "vllm-a" || !s.Pods[0].IsReady || s.Pods[1].Ready != "0/1" || s.Pods[0].LastTermination != "OOMKilled" {
		t.Errorf("pods = %+v", s.Pods)
	}
	if s.Deployment == nil || s.Deployment.ReadyReplicas != 2 {
		t.Errorf("deployment = %+v", s.Deployment)
	}
	// The adapter pod's past OOM kill is reported first, highlighted; then
	// the log itself (the fake clientset answers every log request with
	// "fake logs").
	if s.Logs[0].Text != "container has restarted 1 times, last termination: OOMKilled" || !s.Logs[0].Error {
		t.Errorf("first log line = %+v", s.Logs[0])
	}
	if s.Logs[1].Text != "fake logs" || s.Logs[1].Pod != "custom-metrics-stackdriver-adapter-1" || s.Logs[1].Error {
		t.Errorf("logs = %+v", s.Logs)
	}
	if len(s.History.Replicas) == 0 || s.History.Replicas[len(s.History.Replicas)-1].Desired != 3 {
		t.Errorf("history = %+v", s.History.Replicas)
	}
	if s.PodsError != "" || s.EventsError != "" || s.HPAError != "" {
		t.Errorf("unexpected panel errors: %q %q %q", s.PodsError, s.EventsError, s.HPAError)
	}
}

func TestWatcherDegradesPanelOnForbidden(t *testing.T) {
	c := fake.NewClientset(testHPA(1, 1), testDeployment())
	forbid := func(resource string) {
		c.PrependReactor("list", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
			if resource == "pods" && a.GetNamespace() != ns {
				return false, nil, nil
			}
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: resource}, "", nil)
		})
	}
	forbid("pods")
	forbid("events")
	s := runUntil(t, newTestWatcher(c), func(s Snapshot) bool {
		return s.HPA != nil && s.PodsError != "" && !strings.HasPrefix(s.PodsError, "waiting") &&
			s.EventsError != "" && !strings.HasPrefix(s.EventsError, "waiting")
	})
	if !strings.Contains(s.PodsError, "forbidden") || !strings.Contains(s.EventsError, "forbidden") {
		t.Errorf("errors = %q / %q", s.PodsError, s.EventsError)
	}
	if s.HPA.CurrentReplicas != 1 {
		t.Errorf("HPA panel should still work: %+v", s.HPA)
	}
}

// TestWatcherReportsAdapterRestart: an adapter container that restarts (the
// adapter's known OOM kill) becomes a highlighted line in the log panel.
func TestWatcherReportsAdapterRestart(t *testing.T) {
	adapter := testPod("custom-metrics-stackdriver-adapter-1", "custom-metrics", map[string]string{"k8s-app": "custom-metrics-stackdriver-adapter"}, true)
	c := fake.NewClientset(testHPA(1, 1), testDeployment(), adapter)
	var once sync.Once
	s := runUntil(t, newTestWatcher(c), func(s Snapshot) bool {
		if len(s.AdapterPods) == 1 {
			once.Do(func() {
				p := adapter.DeepCopy()
				p.Status.ContainerStatuses[0].RestartCount = 2
				_, _ = c.CoreV1().Pods("custom-metrics").UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
			})
		}
		for _, l := range s.Logs {
			if l.Error && strings.Contains(l.Text, "container restarted (restarts 2, last termination: OOMKilled)") {
				return true
			}
		}
		return false
	})
	if len(s.AdapterPods) != 1 || s.AdapterPods[0].Restarts != 2 {
		t.Errorf("adapter pods = %+v", s.AdapterPods)
	}
}
