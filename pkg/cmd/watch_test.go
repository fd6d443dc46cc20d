package cmd

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
)

func watchFixture(current int32) (*fake.Clientset, *autoscalingv2.HorizontalPodAutoscaler) {
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "vllm-hpa", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 5,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "vllm"}},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: current, DesiredReplicas: current},
	}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "vllm", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "vllm"}}}}
	return fake.NewClientset(hpa, dep), hpa
}

func plainOptions(c *fake.Clientset, out *bytes.Buffer, name string) *WatchOptions {
	o := NewWatchOptions(genericiooptions.IOStreams{Out: out, ErrOut: out}, genericclioptions.NewConfigFlags(false))
	o.client, o.Name, o.Namespace, o.Plain = c, name, "default", true
	return o
}

// TestWatchPlainUntilReplicas is the CI use: --plain --until-replicas 3 exits
// 0 once the HPA reports 3 replicas, having printed the change.
func TestWatchPlainUntilReplicas(t *testing.T) {
	c, hpa := watchFixture(1)
	var out bytes.Buffer
	o := plainOptions(c, &out, "vllm")
	o.UntilReplicas, o.Timeout = 3, 20*time.Second
	go func() {
		time.Sleep(300 * time.Millisecond)
		h := hpa.DeepCopy()
		h.Status.CurrentReplicas, h.Status.DesiredReplicas = 3, 3
		_, _ = c.AutoscalingV2().HorizontalPodAutoscalers("default").UpdateStatus(context.Background(), h, metav1.UpdateOptions{})
	}()
	if err := o.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"hpa default/vllm-hpa -> Deployment/vllm min=1 max=5 replicas=1", "replicas 1 -> 3", "desired 1 -> 3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWatchTimeoutBeforeReplicasExits1(t *testing.T) {
	c, _ := watchFixture(1)
	var out bytes.Buffer
	o := plainOptions(c, &out, "vllm-hpa")
	o.UntilReplicas, o.Timeout = 3, 700*time.Millisecond
	err := o.Run(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), "reached 3 replicas (current: 1)") {
		t.Fatalf("err = %v", err)
	}
}

func TestWatchMissingHPAListsNames(t *testing.T) {
	c, _ := watchFixture(1)
	var out bytes.Buffer
	err := plainOptions(c, &out, "nope").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "HPAs there: vllm-hpa") {
		t.Fatalf("err = %v", err)
	}
}

func TestWatchValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*WatchOptions)
		want string
	}{
		{func(o *WatchOptions) { o.Name = "" }, "name the HPA"},
		{func(o *WatchOptions) { o.Timeout = -time.Second }, "--timeout"},
		{func(o *WatchOptions) { o.Since = -time.Second }, "--since"},
		{func(o *WatchOptions) { o.UntilReplicas = -2 }, "--until-replicas"},
		{func(o *WatchOptions) { o.MetricsInterval = time.Millisecond }, "--metrics-interval"},
		{func(o *WatchOptions) { o.AdapterNamespace = "" }, "--adapter-namespace"},
	} {
		o := NewWatchOptions(genericiooptions.IOStreams{}, genericclioptions.NewConfigFlags(false))
		o.Name = "x"
		tc.mod(o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, tc.want)
		}
	}
	o := NewWatchOptions(genericiooptions.IOStreams{}, genericclioptions.NewConfigFlags(false))
	o.Name = "x"
	if err := o.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}
