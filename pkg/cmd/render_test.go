package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	// No kubeconfig: render must work without any cluster.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	code = Execute(streams, args)
	return code, out.String(), errOut.String()
}

func TestRenderBadInput(t *testing.T) {
	base := []string{"render", "--deployment", "vllm"}
	cases := []struct {
		name string
		args []string
		want string // the flag the error must name
	}{
		{"no deployment", []string{"render"}, "--deployment"},
		{"upper-case deployment", []string{"render", "--deployment", "VLLM"}, "--deployment"},
		{"deployment with underscore", []string{"render", "--deployment", "my_vllm"}, "--deployment"},
		{"bad namespace", append(base, "-n", "Prod"), "--namespace"},
		{"namespace with dot", append(base, "-n", "a.b"), "--namespace"},
		{"bad hpa name", append(base, "--hpa-name", "-x"), "--hpa-name"},
		{"min zero", append(base, "--min", "0"), "--min"},
		{"min negative", append(base, "--min", "-2"), "--min"},
		{"min above max", append(base, "--min", "6", "--max", "5"), "--max"},
		{"unknown metric", append(base, "--metric", "latency"), "--metric"},
		{"zero target", append(base, "--metric", "running=0"), "--metric"},
		{"negative target", append(base, "--metric", "waiting=-1"), "--metric"},
		{"non-numeric target", append(base, "--metric", "running=four"), "--metric"},
		{"kv-cache above 1", append(base, "--metric", "kv-cache=80"), "--metric"},
		{"gpu-util above 100", append(base, "--metric", "gpu-util=150"), "--metric"},
		{"metric twice", append(base, "--metric", "running", "--metric", "running=3"), "--metric"},
		{"gpu-util without dcgm", append(base, "--metric", "gpu-util", "--dcgm", "off"), "--dcgm"},
		{"port zero", append(base, "--metrics-port", "0"), "--metrics-port"},
		{"port too big", append(base, "--metrics-port", "70000"), "--metrics-port"},
		{"port name invalid", append(base, "--metrics-port", "my_port!"), "--metrics-port"},
		{"relative metrics path", append(base, "--metrics-path", "metrics"), "--metrics-path"},
		{"malformed duration", append(base, "--scrape-interval", "15"), "--scrape-interval"},
		{"sub-second interval", append(base, "--scrape-interval", "500ms"), "--scrape-interval"},
		{"unknown behavior", append(base, "--behavior", "fast"), "--behavior"},
		{"unknown dcgm", append(base, "--dcgm", "auto"), "--dcgm"},
		{"unknown wi mode", append(base, "--wi-mode", "keys"), "--wi-mode"},
		{"unknown adapter nodes", append(base, "--adapter-nodes", "autopilot"), "--adapter-nodes"},
		{"gsa without project", append(base, "--wi-mode", "gsa"), "--project"},
		{"gsa name too short", append(base, "--wi-mode", "gsa", "--project", "my-project", "--gsa-name", "gsa"), "--gsa-name"},
		{"gsa name upper-case", append(base, "--wi-mode", "gsa", "--project", "my-project", "--gsa-name", "Metrics-Adapter"), "--gsa-name"},
		{"gsa name trailing hyphen", append(base, "--wi-mode", "gsa", "--project", "my-project", "--gsa-name", "metrics-adapter-"), "--gsa-name"},
		{"project number", append(base, "--project", "123456789012"), "--project"},
		{"project too short", append(base, "--project", "abc"), "--project"},
		{"project upper-case", append(base, "--project", "My-Project"), "--project"},
		{"pod label without =", append(base, "--pod-label", "gemma-server"), "--pod-label"},
		{"pod label bad value", append(base, "--pod-label", "app=gemma server"), "--pod-label"},
		{"bad image", append(base, "--adapter-image", "not an image"), "--adapter-image"},
		{"bad output", append(base, "-o", "wide"), "--output"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.args...)
			if code == 0 {
				t.Fatalf("exit 0 for %v; stdout:\n%s", tc.args, out)
			}
			if out != "" {
				t.Errorf("printed manifests despite the error:\n%s", out)
			}
			msg := strings.TrimSpace(errOut)
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("error is not one line:\n%s", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name %s", msg, tc.want)
			}
		})
	}
}

func TestRenderBadInputWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, _ := run(t, "render", "--deployment", "vllm", "--min", "0", "--export", dir)
	if code == 0 {
		t.Fatal("exit 0")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--export %s was created despite the error", dir)
	}
}

func TestRenderOutputs(t *testing.T) {
	code, y, errOut := run(t, "render", "--deployment", "vllm-gemma-deployment", "--pod-label", "app=gemma-server",
		"--metrics-port", "8081", "--metric", "running=4", "--behavior", "tutorial")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kind: PodMonitoring", "port: 8081", "averageValue: \"4\"", "stabilizationWindowSeconds: 30", "namespace: default"} {
		if !strings.Contains(y, want) {
			t.Errorf("yaml output lacks %q", want)
		}
	}
	code, j, errOut := run(t, "render", "--deployment", "vllm", "-n", "llm", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(j), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "List" || len(list.Items) != 12 { // as in pkg/kustomize's defaults golden
		t.Errorf("json output: kind %q with %d items", list.Kind, len(list.Items))
	}
}

func TestRenderExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gitops")
	code, _, errOut := run(t, "render", "--deployment", "vllm", "--export", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{"kustomization.yaml", "values.yaml", "workload/kustomization.yaml", "library/adapter/deployment.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("export lacks %s", f)
		}
	}
	code, _, errOut = run(t, "render", "--deployment", "vllm", "--export", dir)
	if code == 0 || !strings.Contains(errOut, "not empty") {
		t.Errorf("second export into the same directory: exit %d, %q", code, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version", "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] == "" {
		t.Errorf("version -o json: exit %d, %q", code, out)
	}
	if code, _, errOut := run(t, "version", "-o", "xml"); code == 0 || !strings.Contains(errOut, "--output") {
		t.Errorf("version -o xml: exit %d, %q", code, errOut)
	}
}

// --adapter-nodes any drops the metadata-server nodeSelector (Autopilot).
func TestRenderAdapterNodes(t *testing.T) {
	for flag, want := range map[string]bool{"metadata-server": true, "any": false} {
		code, y, errOut := run(t, "render", "--deployment", "vllm", "--adapter-nodes", flag)
		if code != 0 {
			t.Fatalf("--adapter-nodes %s: exit %d: %s", flag, code, errOut)
		}
		if got := strings.Contains(y, "iam.gke.io/gke-metadata-server-enabled: \"true\""); got != want {
			t.Errorf("--adapter-nodes %s: nodeSelector rendered %v, want %v", flag, got, want)
		}
	}
}

// render takes [DEPLOYMENT] as setup and diff do: the argument renders as
// --deployment does, and the two must agree.
func TestRenderDeploymentArgument(t *testing.T) {
	code, byFlag, stderr := run(t, "render", "--deployment", "vllm")
	if code != 0 {
		t.Fatalf("render --deployment vllm: %s", stderr)
	}
	code, byArg, stderr := run(t, "render", "vllm")
	if code != 0 || byArg != byFlag {
		t.Fatalf("render vllm: exit %d %s; same output as --deployment: %v", code, stderr, byArg == byFlag)
	}
	if code, _, stderr := run(t, "render", "vllm", "--deployment", "other"); code == 0 || !strings.Contains(stderr, "differ") {
		t.Errorf("argument and --deployment differ: exit %d %q", code, stderr)
	}
	if code, _, _ := run(t, "render", "a", "b"); code == 0 {
		t.Error("two arguments accepted")
	}
}
