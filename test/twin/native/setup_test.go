package native_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
}
