package watch

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestTailerResumesWithSinceTime: the first stream ends after two lines; the
// reopened stream must ask for sinceTime = the last line's time, and the
// line it repeats (sinceTime has second resolution) must not be kept twice.
func TestTailerResumesWithSinceTime(t *testing.T) {
	c := fake.NewClientset()
	var mu sync.Mutex
	var calls []*corev1.PodLogOptions
	bodies := []string{
		"2026-11-26T18:00:01.100000000Z I1126 serving\n2026-11-26T18:00:02.200000000Z E1126 googleapi: Error 403: Permission monitoring.timeSeries.list denied\n",
		"2026-11-26T18:00:02.200000000Z E1126 googleapi: Error 403: Permission monitoring.timeSeries.list denied\n2026-11-26T18:00:03.000000000Z I1126 recovered\n",
	}
	c.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "log" {
			return false, nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		opts := a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
		calls = append(calls, opts.DeepCopy())
		body := ""
		if n := len(calls); n <= len(bodies) {
			body = bodies[n-1]
		}
		return true, &runtime.Unknown{Raw: []byte(body)}, nil
	})
	buf := &logBuffer{max: 10}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tl := &tailer{client: c, namespace: "custom-metrics", pod: "adapter-1", buf: buf, notify: func() {}, backoff: 10 * time.Millisecond}
	go tl.run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines, _ := buf.snapshot()
		if len(lines) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	lines, _ := buf.snapshot()
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.Text)
	}
	want := []string{"I1126 serving", "E1126 googleapi: Error 403: Permission monitoring.timeSeries.list denied", "I1126 recovered"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %q, want %q", texts, want)
	}
	if lines[0].Error || !lines[1].Error || lines[2].Error {
		t.Errorf("error marks wrong: %+v", lines)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[0].SinceTime != nil || calls[0].TailLines == nil || !calls[0].Follow || !calls[0].Timestamps {
		t.Errorf("first request = %+v", calls[0])
	}
	if calls[1].SinceTime == nil || !calls[1].SinceTime.Time.Equal(time.Date(2026, 11, 26, 18, 0, 2, 200000000, time.UTC)) {
		t.Errorf("second request should resume at the last line: %+v", calls[1])
	}
}

func TestTailerReportsForbidden(t *testing.T) {
	c := fake.NewClientset()
	c.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods/log"}, "adapter-1", nil)
	})
	buf := &logBuffer{max: 10}
	ctx, cancel := context.WithCancel(context.Background())
	notified := make(chan struct{}, 1)
	tl := &tailer{client: c, namespace: "custom-metrics", pod: "adapter-1", buf: buf, backoff: time.Hour,
		notify: func() { notified <- struct{}{} }}
	go tl.run(ctx)
	<-notified
	cancel()
	if _, err := buf.snapshot(); !strings.Contains(err, "forbidden: no RBAC to get pods/log in custom-metrics") {
		t.Errorf("err = %q", err)
	}
}

func TestIsErrorLine(t *testing.T) {
	for line, want := range map[string]bool{
		"E1126 18:00:02.000000 1 provider.go:1] boom":                      true,
		"googleapi: Error 403: Permission denied":                          true,
		"metric prometheus.googleapis.com|x|gauge not found":               true,
		"container restarted (restarts 2, last termination: OOMKilled)":    true,
		"I1126 18:00:00.000000 1 main.go:92] serving custom metrics API":   false,
		"W1126 using the new resource model for prometheus.googleapis.com": false,
	} {
		if got := IsErrorLine(line); got != want {
			t.Errorf("IsErrorLine(%q) = %v, want %v", line, got, want)
		}
	}
}
