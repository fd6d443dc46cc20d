// Package adaptertest holds what tests of the twin's metrics pipeline share:
// kubectl against the twin, the plugin's adapter manifests, and Workload
// Identity grants made through the local Google API server's REST API (as
// gcloud makes them).
package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
)

// Roles and the tutorial's Google service account.
const (
	Viewer = "roles/monitoring.viewer"
	GSA    = "metrics-adapter-gsa@twin-project.iam.gserviceaccount.com"
)

// Env is a twin with the metrics pipeline and the local Google API server.
type Env struct {
	Twin *twin.Twin
	// Repo is the repository root (for embedded/library).
	Repo string

	adapterOnce sync.Once
}

// New returns an Env for a test package two folders below test/twin.
func New(tw *twin.Twin, repo string) (*Env, error) {
	abs, err := filepath.Abs(repo)
	return &Env{Twin: tw, Repo: abs}, err
}

// Kubectl runs the real kubectl against the twin.
func (e *Env) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", e.Twin.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Apply is kubectl apply -f - of yaml.
func (e *Env) Apply(t *testing.T, yaml string) {
	t.Helper()
	if _, err := e.Kubectl(context.Background(), yaml, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// Eventually polls cond every 500ms until it returns true or timeout passes;
// the last message explains a failure.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(context.Context) (bool, error) {
		ok, msg := cond()
		last = msg
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
	}
}

// InstallAdapter applies the plugin's adapter manifests
// (embedded/library/adapter) once and waits until the custom metrics
// APIService is Available through the real adapter (which starts only once
// its identity may read Cloud Monitoring: grant first).
func (e *Env) InstallAdapter(t *testing.T) {
	t.Helper()
	e.ApplyAdapter(t)
	Eventually(t, 90*time.Second, "APIService v1beta2.custom.metrics.k8s.io Available", func() (bool, string) {
		out, err := e.Kubectl(context.Background(), "", "get", "apiservice", "v1beta2.custom.metrics.k8s.io",
			"-o", `jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].message}`)
		return err == nil && strings.HasPrefix(out, "True"), out
	})
}

// ApplyAdapter applies the plugin's adapter manifests once, without
// waiting.
func (e *Env) ApplyAdapter(t *testing.T) {
	t.Helper()
	e.adapterOnce.Do(func() {
		if _, err := e.Kubectl(context.Background(), "", "apply", "-k", filepath.Join(e.Repo, "embedded", "library", "adapter")); err != nil {
			t.Fatal(err)
		}
	})
}

// GCP calls the local Google API server's REST API.
func (e *Env) GCP(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, strings.TrimSuffix(e.Twin.GoogleURL, "/")+path, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %v", method, path, resp.Status, out)
	}
	return out
}

// SetProjectViewers makes members the only holders of roles/monitoring.viewer
// on the project (read-modify-write with the etag, as gcloud does).
func (e *Env) SetProjectViewers(t *testing.T, members ...string) {
	t.Helper()
	p := e.Twin.Options.Project
	pol := e.GCP(t, "POST", "/v1/projects/"+p+":getIamPolicy", map[string]any{"options": map[string]any{"requestedPolicyVersion": 3}})
	var keep []any
	bs, _ := pol["bindings"].([]any)
	for _, b := range bs {
		if b.(map[string]any)["role"] != Viewer {
			keep = append(keep, b)
		}
	}
	if len(members) > 0 {
		keep = append(keep, map[string]any{"role": Viewer, "members": members})
	}
	pol["bindings"] = keep
	pol["version"] = 3
	e.GCP(t, "POST", "/v1/projects/"+p+":setIamPolicy", map[string]any{"policy": pol})
}

// GrantTutorialWay is the tutorial's Workload Identity: a GSA with
// monitoring.viewer that the adapter's KSA may impersonate, named in the
// KSA's annotation.
func (e *Env) GrantTutorialWay(t *testing.T) {
	t.Helper()
	e.ApplyAdapter(t)
	p := e.Twin.Options.Project
	accounts := e.GCP(t, "GET", "/v1/projects/"+p+"/serviceAccounts", nil)
	if !strings.Contains(fmt.Sprint(accounts), GSA) {
		e.GCP(t, "POST", "/v1/projects/"+p+"/serviceAccounts", map[string]any{"accountId": strings.Split(GSA, "@")[0]})
	}
	member := "serviceAccount:" + p + ".svc.id.goog[custom-metrics/custom-metrics-stackdriver-adapter]"
	e.GCP(t, "POST", "/v1/projects/"+p+"/serviceAccounts/"+GSA+":setIamPolicy", map[string]any{"policy": map[string]any{
		"bindings": []any{map[string]any{"role": "roles/iam.workloadIdentityUser", "members": []string{member}}}}})
	e.SetProjectViewers(t, "serviceAccount:"+GSA)
	e.annotate(t, "iam.gke.io/gcp-service-account="+GSA)
}

// UsePrincipal is today's GKE docs' Workload Identity: the adapter's KSA
// itself (no GSA annotation) holds roles/monitoring.viewer.
func (e *Env) UsePrincipal(t *testing.T) {
	t.Helper()
	e.ApplyAdapter(t)
	e.SetProjectViewers(t, e.Principal())
	e.annotate(t, "iam.gke.io/gcp-service-account-")
}

// annotate changes the adapter KSA's GSA annotation; when that changes the
// identity of a running adapter (whose token is cached for its life, as on
// GKE), the adapter is restarted, as one has to on GKE.
func (e *Env) annotate(t *testing.T, change string) {
	t.Helper()
	ctx := context.Background()
	get := func() string {
		out, _ := e.Kubectl(ctx, "", "-n", "custom-metrics", "get", "serviceaccount", "custom-metrics-stackdriver-adapter",
			"-o", `jsonpath={.metadata.annotations.iam\.gke\.io/gcp-service-account}`)
		return out
	}
	before := get()
	if _, err := e.Kubectl(ctx, "", "-n", "custom-metrics", "annotate", "--overwrite", "serviceaccount",
		"custom-metrics-stackdriver-adapter", change); err != nil {
		t.Fatal(err)
	}
	if get() == before {
		return
	}
	if _, err := e.Kubectl(ctx, "", "-n", "custom-metrics", "rollout", "restart", "deployment/custom-metrics-stackdriver-adapter"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Kubectl(ctx, "", "-n", "custom-metrics", "rollout", "status", "deployment/custom-metrics-stackdriver-adapter", "--timeout=90s"); err != nil {
		t.Fatal(err)
	}
}

// Principal is today's GKE docs' direct Workload Identity principal of the
// adapter's KSA.
func (e *Env) Principal() string {
	o := e.Twin.Options
	return "principal://iam.googleapis.com/projects/" + strconv.FormatInt(o.ProjectNumber, 10) + "/locations/global/workloadIdentityPools/" +
		o.Project + ".svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter"
}

// HPACondition is "STATUS REASON: MESSAGE" of one condition of an HPA.
func (e *Env) HPACondition(ns, hpa, typ string) string {
	out, _ := e.Kubectl(context.Background(), "", "-n", ns, "get", "hpa", hpa, "-o",
		fmt.Sprintf(`jsonpath={.status.conditions[?(@.type=="%s")].status} {.status.conditions[?(@.type=="%s")].reason}: {.status.conditions[?(@.type=="%s")].message}`, typ, typ, typ))
	return out
}

// AdapterLogs is kubectl logs of the adapter Deployment.
func (e *Env) AdapterLogs() string {
	out, err := e.Kubectl(context.Background(), "", "-n", "custom-metrics", "logs", "deploy/custom-metrics-stackdriver-adapter")
	if err != nil {
		return err.Error()
	}
	return out
}

// PodMonitoring is the tutorial's PodMonitoring, with a 1s interval.
func PodMonitoring(ns string, port int) string {
	return fmt.Sprintf(`
apiVersion: monitoring.googleapis.com/v1
kind: PodMonitoring
metadata:
  name: gemma-server
  namespace: %s
spec:
  selector:
    matchLabels:
      app: gemma-server
  endpoints:
  - port: %d
    path: /metrics
    interval: 1s
`, ns, port)
}

// TutorialHPA (gemma-server-hpa) scales on the running-requests gauge at AverageValue 4 (the
// tutorial's); scale-down is not stabilised so the test need not wait 5 min.
func TutorialHPA(ns string) string {
	return fmt.Sprintf(`
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: gemma-server-hpa
  namespace: %s
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: vllm-gemma-deployment
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Pods
    pods:
      metric:
        name: prometheus.googleapis.com|vllm:num_requests_running|gauge
      target:
        type: AverageValue
        averageValue: 4
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 0
`, ns)
}

// GPUMetric is the custom metric the plugin's ClusterRules
// (embedded/library/components/metric-gpu-util) records, as the HPA names
// it, and the rules with a 1s interval.
func (e *Env) GPUMetric(t *testing.T) (metric, rules string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.Repo, "embedded", "library", "components", "metric-gpu-util", "clusterrules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*- record: (\S+)`).FindStringSubmatch(string(data))
	if m == nil {
		t.Fatal("clusterrules.yaml records no metric")
	}
	return "prometheus.googleapis.com|" + m[1] + "|gauge", strings.Replace(string(data), "interval: 15s", "interval: 1s", 1)
}
