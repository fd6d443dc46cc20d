package native_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/native"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/pipeline/adaptertest"
)

// setup runs the plugin's setup against the twin.
func setup(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return pluginRun(t, append([]string{"setup", "--timeout", "2m"}, args...)...)
}

// pluginRun runs the plugin against the twin.
func pluginRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(plugin, append([]string{"--kubeconfig", tw.Kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// On a twin that reports GKE 1.35.2 and serves AutoscalingMetric, setup
// without --path picks the native path, says why, applies only the
// AutoscalingMetric and the HPA (no adapter, no IAM), and the real HPA
// controller scales the tutorial's Deployment on vllm:num_requests_running.
func TestSetupAutoPicksNativeAndScales(t *testing.T) {
	ns := "setup-native"
	env.Apply(t, workload(ns))
	load := newLoadPods(t, ns)
	code, out, errOut := setup(t, "-n", ns, "--deployment", "vllm-gemma-deployment", "--metrics-port", "8081",
		"--metric", "running=4", "--behavior", "tutorial")
	if code != 0 {
		t.Fatalf("setup: exit %d\n%s\n%s", code, out, errOut)
	}
	if want := "discovered: path native (GKE " + gkeVersion + ", AutoscalingMetric served; the HPA needs the performance profile: check it with gcloud"; !strings.Contains(errOut, want) {
		t.Errorf("setup did not say why it chose native (want %q):\n%s", want, errOut)
	}
	ctx := context.Background()
	if _, err := tw.Client.CoreV1().Namespaces().Get(ctx, "custom-metrics", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("setup --path native created the adapter's namespace (err %v)", err)
	}
	if strings.Contains(out+errOut, "roles/monitoring.viewer") {
		t.Errorf("setup on the native path mentions IAM:\n%s\n%s", out, errOut)
	}
	dyn, err := dynamicClient()
	if err != nil {
		t.Fatal(err)
	}
	am, err := dyn.Resource(native.GVR).Namespace(ns).Get(ctx, "vllm-gemma-deployment-vllm", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no AutoscalingMetric: %v", err)
	}
	if am.GetLabels()["app.kubernetes.io/managed-by"] != "kubectl-infer-hpa" {
		t.Errorf("AutoscalingMetric labels %v", am.GetLabels())
	}
	adaptertest.Eventually(t, 60*time.Second, "HPA computes the native metric", func() (bool, string) {
		c := env.HPACondition(ns, "vllm-gemma-deployment", "ScalingActive")
		return strings.HasPrefix(c, "True"), c
	})
	began := time.Now()
	load.set(16)
	adaptertest.Eventually(t, 90*time.Second, "scale up to 4", func() (bool, string) {
		n, msg := replicas(ns)
		return n == 4, msg
	})
	t.Logf("setup's native HPA scaled 1 -> 4 in %s", time.Since(began).Round(time.Second))

	// diff (also auto) sees nothing to change.
	code, out, errOut = pluginRun(t, "diff", "-n", ns, "--deployment", "vllm-gemma-deployment", "--metrics-port", "8081",
		"--metric", "running=4", "--behavior", "tutorial")
	if code != 0 {
		t.Errorf("diff after setup: exit %d\n%s\n%s", code, out, errOut)
	}
}

// The stand-in's custom.metrics.k8s.io APIServices are not ours: setup
// --path adapter on such a cluster refuses to take them over (preflight),
// writing nothing, and names the owner.
func TestAdapterPathRefusesGKEsAPIService(t *testing.T) {
	ns := "adapter-on-native"
	env.Apply(t, workload(ns))
	code, out, errOut := setup(t, "-n", ns, "--deployment", "vllm-gemma-deployment", "--metrics-port", "8081", "--path", "adapter", "--skip-iam")
	if code == 0 || !strings.Contains(errOut, "already served by "+native.Namespace+"/"+native.Name) || !strings.Contains(errOut, "discovered: path adapter (--path adapter)") {
		t.Errorf("setup --path adapter over GKE's APIService: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := tw.Client.CoreV1().Namespaces().Get(context.Background(), "custom-metrics", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused setup created the adapter's namespace (err %v)", err)
	}
}

// Bad input on the native path: one line naming the problem and the fix,
// non-zero exit, nothing written.
func TestSetupNativeBadInput(t *testing.T) {
	ns := "native-bad"
	env.Apply(t, workload(ns))
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"gpu-util":  {[]string{"--path", "native", "--metric", "gpu-util"}, "--metric gpu-util is not available on --path native"},
		"port name": {[]string{"--path", "native", "--metrics-port", "http"}, "--metrics-port \"http\": on --path native GKE's AutoscalingMetric takes the port number"},
		"bad path":  {[]string{"--path", "gke"}, `--path "gke" is not supported`},
	} {
		code, _, errOut := setup(t, append([]string{"-n", ns, "--deployment", "vllm-gemma-deployment", "--metrics-port", "8081"}, c.args...)...)
		msg := strings.TrimSpace(errOut)
		if code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: exit %d, stderr %q: want one line with %q", name, code, msg, c.want)
		}
	}
	// Another team's AutoscalingMetric already exposes 20 gauges: GKE's
	// Preview limit per cluster (the twin reports 1.35.2).
	full := foreignAutoscalingMetric(t, "native-other", native.MaxMetrics)
	code, _, errOut := setup(t, "-n", ns, "--deployment", "vllm-gemma-deployment", "--metrics-port", "8081", "--path", "native")
	msg := strings.TrimSpace(errOut)
	// At least the other team's 20: the package's other tests may have left
	// AutoscalingMetrics of their own in the shared twin.
	want := regexp.MustCompile(`--path native: the cluster's other AutoscalingMetrics expose (\d+) unique metrics and this adds 1, over GKE's limit of 20 per cluster`)
	m := want.FindStringSubmatch(msg)
	if code == 0 || strings.Contains(msg, "\n") || m == nil {
		t.Errorf("over GKE's limit: exit %d, stderr %q: want one line matching %q", code, msg, want)
	} else if n, _ := strconv.Atoi(m[1]); n < native.MaxMetrics {
		t.Errorf("over GKE's limit: counted %d other metrics, want at least the other team's %d", n, native.MaxMetrics)
	}
	hpas, err := tw.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(hpas.Items) != 0 {
		t.Errorf("bad input wrote HPAs: %v %v", err, hpas)
	}
	dyn, err := dynamicClient()
	if err != nil {
		t.Fatal(err)
	}
	if l, err := dyn.Resource(native.GVR).Namespace(ns).List(context.Background(), metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("bad input wrote AutoscalingMetrics: %v %v", err, l)
	}
	got, err := dyn.Resource(native.GVR).Namespace(full.GetNamespace()).Get(context.Background(), full.GetName(), metav1.GetOptions{})
	if err != nil || got.GetResourceVersion() != full.GetResourceVersion() {
		t.Errorf("the other team's AutoscalingMetric changed: %v", err)
	}
}

// foreignAutoscalingMetric creates, in namespace ns, an AutoscalingMetric
// that is not ours exposing n gauges, and deletes it (and ns) when the test
// ends: while it exists the cluster is at GKE's limit.
func foreignAutoscalingMetric(t *testing.T, ns string, n int) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	if _, err := tw.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var gauges []any
	for i := range n {
		gauges = append(gauges, map[string]any{"gauge": map[string]any{"name": fmt.Sprintf("queue-%d", i), "prometheusMetricName": fmt.Sprintf("queue_%d", i)}})
	}
	am := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling.gke.io/v1beta1", "kind": "AutoscalingMetric",
		"metadata": map[string]any{"name": "theirs", "namespace": ns},
		"spec": map[string]any{"metrics": []any{map[string]any{"pod": map[string]any{
			"selector":   map[string]any{"matchLabels": map[string]any{"app": "worker"}},
			"containers": []any{map[string]any{"endpoint": map[string]any{"port": int64(9090), "path": "/metrics"}, "metrics": gauges}},
		}}}},
	}}
	dyn, err := dynamicClient()
	if err != nil {
		t.Fatal(err)
	}
	created, err := dyn.Resource(native.GVR).Namespace(ns).Create(ctx, am, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dyn.Resource(native.GVR).Namespace(ns).Delete(ctx, "theirs", metav1.DeleteOptions{})
		_ = tw.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	return created
}
