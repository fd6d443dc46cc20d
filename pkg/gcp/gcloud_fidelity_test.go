package gcp_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/gcpfake"
)

// TestGcloudFidelity runs the real gcloud against the local server: the
// commands --print-gcloud prints (the tutorial's commands, made
// non-interactive with --condition=None) and their get-iam-policy, and
// checks that the end state equals what Ensure makes on a second server.
// It proves the server is faithful enough for gcloud, and that
// --print-gcloud really is the equivalent of Ensure.
func TestGcloudFidelity(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not installed: skipping the gcloud fidelity test")
	}
	trap := proxyTrap(t)
	byGcloud, byUs := newEnv(t), newEnv(t)
	configs := []identity.Config{
		{Mode: identity.ModeGSA, ProjectID: testProject},
		{Mode: identity.ModePrincipal, ProjectID: testProject, ProjectNumber: testNumber},
	}

	env := gcloudEnv(t, byGcloud.url, trap)
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, gcloud, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("gcloud %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return out
	}
	for _, cfg := range configs {
		for _, args := range gcp.GcloudArgs(cfg) {
			run(args...)
		}
	}
	email := configs[0].WithDefaults().GSAEmail()
	var projectPolicy, saPolicy gcpfake.Policy
	mustJSON(t, run("projects", "get-iam-policy", testProject, "--format=json"), &projectPolicy)
	mustJSON(t, run("iam", "service-accounts", "get-iam-policy", email, "--project="+testProject, "--format=json"), &saPolicy)
	if !reflect.DeepEqual(projectPolicy.Bindings, byGcloud.fake.ProjectPolicy(testProject).Bindings) ||
		!reflect.DeepEqual(saPolicy.Bindings, byGcloud.fake.ServiceAccountPolicy(email).Bindings) {
		t.Errorf("gcloud get-iam-policy disagrees with the server:\n%+v\n%+v", projectPolicy, saPolicy)
	}

	// Ensure, configured from the same gcloud environment variables.
	byUs.useClient(t, gcp.OptionsFromEnv(getenv(gcloudEnv(t, byUs.url, trap))))
	for _, cfg := range configs {
		if _, err := byUs.client.Ensure(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}

	if got, want := state(byGcloud.fake), state(byUs.fake); !reflect.DeepEqual(got, want) {
		t.Errorf("end states differ\n gcloud: %+v\n Ensure: %+v", got, want)
	}
	if byGcloud.fake.IdentityHasRole(testProject, identity.DefaultNamespace, identity.DefaultKSA, email, gcp.RoleMonitoringViewer) != "principal" ||
		byGcloud.fake.IdentityHasRole(testProject, identity.DefaultNamespace, identity.DefaultKSA, "", gcp.RoleMonitoringViewer) != "principal" {
		t.Error("after gcloud the adapter identity lacks the role")
	}
	assertForeignIntact(t, byGcloud.fake.ProjectPolicy(testProject))
	if n := trap.Load(); n != 0 {
		t.Errorf("gcloud tried %d connections to something other than the local server", n)
	}
}

// proxyTrap is a loopback listener that gcloud gets as its HTTP(S) proxy and
// GCE metadata host: anything gcloud sends beyond the local server lands
// here (and nowhere else) and is counted.
func proxyTrap(t *testing.T) *trapCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := &trapCounter{addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.Add(1)
			conn.Close()
		}
	}()
	return c
}

type trapCounter struct {
	atomic.Int64
	addr string
}

// gcloudEnv is a throw-away gcloud configuration, in gcloud's own
// environment variables: endpoints overridden to the local server, no
// credentials, no prompts, no usage reporting, update checks or GCE metadata
// probes, and every other address routed to the trap.
func gcloudEnv(t *testing.T, url string, trap *trapCounter) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CLOUDSDK_") || strings.HasPrefix(k, "GOOGLE_") || strings.Contains(strings.ToLower(k), "proxy") {
			continue
		}
		env = append(env, kv)
	}
	// gcloud caches "not on GCE" here; without it, it probes the metadata
	// server (sent to the trap, which counts it).
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/gce", []byte("False"), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := "http://" + trap.addr
	return append(env,
		"CLOUDSDK_CONFIG="+dir,
		gcp.EnvIAMEndpoint+"="+url,
		gcp.EnvCRMEndpoint+"="+url,
		gcp.EnvDisableCredentials+"=true",
		"CLOUDSDK_CORE_DISABLE_PROMPTS=true",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
		"GCE_METADATA_ROOT="+trap.addr, "GCE_METADATA_HOST="+trap.addr, "GCE_METADATA_IP="+trap.addr,
		"HTTP_PROXY="+proxy, "HTTPS_PROXY="+proxy, "http_proxy="+proxy, "https_proxy="+proxy,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	)
}

func getenv(env []string) func(string) string {
	return func(key string) string {
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); k == key {
				return v
			}
		}
		return ""
	}
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
}

type saState struct {
	DisplayName, Description string
	Bindings                 []gcpfake.Binding
}

// state is the IAM end state: project bindings and each service account
// with its description and bindings (not etags or unique IDs).
func state(f *gcpfake.Server) map[string]any {
	accounts := map[string]saState{}
	for _, e := range f.ServiceAccounts(testProject) {
		sa, _ := f.ServiceAccount(e)
		accounts[e] = saState{sa.DisplayName, sa.Description, f.ServiceAccountPolicy(e).Bindings}
	}
	return map[string]any{"project": f.ProjectPolicy(testProject).Bindings, "serviceAccounts": accounts}
}
