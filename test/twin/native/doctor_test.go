package native_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/native"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/pipeline/adaptertest"
)

type doctorCheck struct{ ID, Status, Message, Fix string }

// doctorJSON runs doctor -o json and returns its exit code, the path it
// checked and its checks.
func doctorJSON(t *testing.T, ns string) (int, string, []doctorCheck) {
	t.Helper()
	code, out, errOut := pluginRun(t, "doctor", "vllm-gemma-deployment", "-n", ns, "-o", "json")
	var rep struct {
		Path   string
		Checks []doctorCheck
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor -o json: exit %d, %v\n%s\n%s", code, err, out, errOut)
	}
	return code, rep.Path, rep.Checks
}

func doctorFails(cs []doctorCheck) []string {
	var out []string
	for _, c := range cs {
		if c.Status == "FAIL" {
			out = append(out, c.ID)
		}
	}
	return out
}

func doctorTable(cs []doctorCheck) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("[" + c.Status + "] " + c.ID + ": " + c.Message + "\n")
	}
	return b.String()
}

// doctor on the native path: a healthy chain is the AutoscalingMetric,
// GKE's adapter (the stand-in) behind custom.metrics.k8s.io and the HPA,
// with the adapter path's links skipped saying why; the AutoscalingMetric
// deleted is the one FAIL, and setup --path native repairs it. watch
// --plain says why it shows no adapter log.
func TestDoctorNativePath(t *testing.T) {
	ns := "doctor-native"
	env.Apply(t, workload(ns))
	load := newLoadPods(t, ns)
	load.set(2)
	args := []string{"-n", ns, "--deployment", "vllm-gemma-deployment", "--metrics-port", "8081", "--metric", "running=4", "--behavior", "tutorial", "--path", "native"}
	if code, out, errOut := setup(t, args...); code != 0 {
		t.Fatalf("setup --path native: exit %d\n%s\n%s", code, out, errOut)
	}
	var checks []doctorCheck
	healthy := func(what string) {
		adaptertest.Eventually(t, 60*time.Second, what, func() (bool, string) {
			code, path, cs := doctorJSON(t, ns)
			checks = cs
			return code == 0 && path == "native", doctorTable(cs)
		})
	}
	healthy("doctor finds the native chain healthy")
	for id, want := range map[string]string{
		"native/vllm-gemma-deployment-vllm":         "ok",
		"metrics-api/v1beta1.custom.metrics.k8s.io": "ok",
		"metrics-api/vllm:num_requests_running":     "ok",
		"hpa/conditions":                            "ok",
		"adapter/deployment":                        "skip",
		"identity/mode":                             "skip",
	} {
		found := false
		for _, c := range checks {
			if c.ID == id {
				found = true
				if c.Status != want {
					t.Errorf("%s: %s %q, want %s", id, c.Status, c.Message, want)
				}
			}
		}
		if !found {
			t.Errorf("no check %s:\n%s", id, doctorTable(checks))
		}
	}
	t.Logf("healthy native chain:\n%s", doctorTable(checks))

	ctx := context.Background()
	dyn, err := dynamicClient()
	if err != nil {
		t.Fatal(err)
	}
	if err := dyn.Resource(native.GVR).Namespace(ns).Delete(ctx, "vllm-gemma-deployment-vllm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	adaptertest.Eventually(t, 60*time.Second, "doctor names the deleted AutoscalingMetric", func() (bool, string) {
		code, _, cs := doctorJSON(t, ns)
		checks = cs
		return code == 1 && strings.Join(doctorFails(cs), ",") == "native/vllm-gemma-deployment-vllm", doctorTable(cs)
	})
	for _, c := range checks {
		if c.ID == "native/vllm-gemma-deployment-vllm" && !strings.Contains(c.Fix, "--path native") {
			t.Errorf("fix %q lacks --path native", c.Fix)
		}
	}
	if code, out, errOut := setup(t, args...); code != 0 {
		t.Fatalf("setup --path native (repair): exit %d\n%s\n%s", code, out, errOut)
	}
	healthy("doctor finds the repaired native chain healthy")

	code, out, errOut := pluginRun(t, "watch", "vllm-gemma-deployment", "-n", ns, "--plain", "--timeout", "3s")
	if !strings.Contains(out, "adapter: no adapter log: this HPA reads GKE's AutoscalingMetric gauges") {
		t.Errorf("watch --plain on the native path: exit %d\n%s\n%s", code, out, errOut)
	}
}
