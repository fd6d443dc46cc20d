package cmd

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderNativeBadInput(t *testing.T) {
	base := []string{"render", "--deployment", "vllm"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"auto without a cluster", append(base, "--path", "auto"), "--path auto needs a cluster to choose from: render has none, so give --path adapter or --path native"},
		{"unknown path", append(base, "--path", "gke"), `--path "gke" is not supported`},
		{"gpu-util", append(base, "--path", "native", "--metric", "gpu-util"), "--metric gpu-util is not available on --path native"},
		{"named port", append(base, "--path", "native", "--metrics-port", "metrics"), "--metrics-port"},
		{"dotted label", append(base, "--path", "native", "--pod-label", "app.kubernetes.io/name=vllm"), "--pod-label"},
		{"bad name", append(base, "--path", "native", "--autoscalingmetric-name", "A|B"), "--autoscalingmetric-name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			code, out, errOut := run(t, append(tc.args, "--export", dir)...)
			if code == 0 || out != "" {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			msg := strings.TrimSpace(errOut)
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want one line containing %q", msg, tc.want)
			}
			if entries, _ := filepath.Glob(dir + "*"); len(entries) != 0 {
				t.Errorf("wrote %v despite the error", entries)
			}
		})
	}
}

// render --path native prints the AutoscalingMetric and the HPA only, and
// its --export builds to the same bytes with the real kubectl.
func TestRenderNative(t *testing.T) {
	args := []string{"render", "--path", "native", "--deployment", "vllm-gemma-deployment", "--pod-label", "app=gemma-server",
		"--metrics-port", "8081", "--metric", "running=4", "-n", "llm"}
	code, y, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kind: AutoscalingMetric", "name: autoscaling.gke.io|vllm-gemma-deployment-vllm|num-requests-running",
		"prometheusMetricName: vllm:num_requests_running", "port: 8081", "app: gemma-server", "namespace: llm"} {
		if !strings.Contains(y, want) {
			t.Errorf("output lacks %q:\n%s", want, y)
		}
	}
	for _, unwanted := range []string{"PodMonitoring", "APIService", "ClusterRole", "custom-metrics-stackdriver-adapter", "ServiceAccount"} {
		if strings.Contains(y, unwanted) {
			t.Errorf("--path native renders %s", unwanted)
		}
	}
	if code, adapterYAML, _ := run(t, "render", "--deployment", "vllm-gemma-deployment"); code != 0 || !strings.Contains(adapterYAML, "kind: APIService") {
		t.Errorf("render without --path is not the adapter path (exit %d)", code)
	}
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on PATH: the export comparison needs the real kubectl")
	}
	dir := filepath.Join(t.TempDir(), "gitops")
	if code, _, errOut := run(t, append(args, "--export", dir)...); code != 0 {
		t.Fatalf("--export: exit %d: %s", code, errOut)
	}
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, []byte(y)) {
		t.Errorf("kubectl kustomize %s differs from render --path native:\n%s\n---\n%s", dir, out, y)
	}
}
