package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestUpDemoLoadDown: `twin up --demo` brings the tutorial's workload up
// behind simulated vLLM, writes an env file whose Google endpoints answer,
// `twin load` drives the Service, and `twin down` ends it all.
func TestUpDemoLoadDown(t *testing.T) {
	bin := buildTwin(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	out, err := exec.Command(bin, "up", "--demo", "--state-dir", stateDir, "--gpu-nodes=1", "--model-load-delay=1s", "--sim-speed=20").CombinedOutput()
	if err != nil {
		t.Fatalf("twin up --demo: %v\n%s", err, out)
	}
	defer func() {
		if out, err := exec.Command(bin, "down", "--state-dir", stateDir).CombinedOutput(); err != nil {
			t.Errorf("twin down: %v\n%s", err, out)
		}
	}()
	for _, want := range []string{"deployment/vllm-gemma-deployment", "env file:", "twin load --service vllm-service", "gcloud iam service-accounts list"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("twin up --demo output lacks %q:\n%s", want, out)
		}
	}
	env, err := os.ReadFile(filepath.Join(stateDir, "twin.env"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=(http://127\.0\.0\.1:\d+/)`).FindSubmatch(env)
	for _, want := range []string{"export KUBECONFIG=", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER=http://127.0.0.1:", "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true"} {
		if m == nil || !strings.Contains(string(env), want) {
			t.Fatalf("env file lacks %q:\n%s", want, env)
		}
	}
	// The project exists in the local Google API server (as gcloud would ask).
	resp, err := http.Get(string(m[1]) + "v1/projects/twin-project")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ ProjectNumber string }
	_ = json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != 200 || p.ProjectNumber != "123456789012" {
		t.Errorf("GET projects/twin-project: %s, number %q", resp.Status, p.ProjectNumber)
	}
	s, err := readState(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	// The demo pod turns Ready after its model loads; twin load waits for a
	// ready endpoint and then sends through the Service.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := exec.Command("kubectl", "--kubeconfig", s.Kubeconfig, "get", "pods", "-l", "app=gemma-server",
			"-o", `jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}`).CombinedOutput()
		if string(out) == "True" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo pod not Ready: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err = exec.Command(bin, "load", "--state-dir", stateDir, "--requests", "12", "--concurrency", "3", "--max-tokens", "8").CombinedOutput()
	if err != nil {
		t.Fatalf("twin load: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "12 requests in") || !strings.Contains(string(out), " 0 errors") ||
		!regexp.MustCompile(`vllm-gemma-deployment-\S+: 12`).Match(out) {
		t.Errorf("twin load output:\n%s", out)
	}
	t.Logf("twin load:\n%s", out)
}
