// Package e2e runs kubectl infer-hpa against the local GKE twin, started
// with the twin's own binary through test/twinrun (`twin exec`: as root in a
// network namespace with only lo); the plugin reaches it only through a
// kubeconfig, as it would reach GKE.
//
// The shared twin runs the metrics pipeline (--metrics: the Managed
// Prometheus emulation, the local Cloud Monitoring, a GKE metadata server
// per pod and the real custom-metrics-stackdriver-adapter for the adapter
// pods setup creates) and the simulation (--simulate: a simulated vLLM
// server behind every vLLM pod, GKE's DCGM exporter on the GPU nodes), so
// every setup here meets the real adapter. See docs/twin.md.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twinrun"
)

// EnvE2E turns the tests on (hack/ci-e2e.sh sets it); without it they are
// skipped, so that `go test ./...` stays fast.
const EnvE2E = "INFER_HPA_E2E"

// cluster is the twin every test shares.
var cluster struct {
	kubeconfig string
	config     *rest.Config
	kube       kubernetes.Interface
	dyn        dynamic.Interface
	// google is the twin's local Google API server (IAM, Cloud Resource
	// Manager, GKE), as `twin exec` set it; tests may point the plugin
	// elsewhere (localGoogle), the adapter's identity is always checked here.
	google gcp.Options
}

// twinFlags shape the shared twin: a short HPA sync period keeps the
// scaling tests quick, a short restart back-off the crash-loop test.
var twinFlags = []string{"--hpa-sync-period=2s", "--metrics", "--simulate", "--model-load-delay=1s", "--gpu-nodes=6",
	"--adapter-backoff=2s", "--adapter-max-backoff=8s"}

func TestMain(m *testing.M) {
	if os.Getenv(EnvE2E) == "" {
		// Every test starts with needE2E, so each reports SKIP.
		os.Exit(m.Run())
	}
	if twinrun.Kubeconfig() != "" {
		if err := connectTwin(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			os.Exit(1)
		}
		// What a user of --skip-iam does by hand, once: the adapter's KSA
		// may read Cloud Monitoring, so the real adapter starts wherever a
		// test sets it up (TestSkipIAMCrashLoop takes it away for a while).
		if err := adapterViewer(context.Background(), true); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: grant the adapter roles/monitoring.viewer in the twin:", err)
			os.Exit(1)
		}
	}
	twinrun.MainWith(m, twinFlags...)
}

// adapterViewer grants (or revokes) roles/monitoring.viewer on the twin's
// project to the adapter's KSA as a Workload Identity principal, in the
// twin's local Google API server, with the plugin's own IAM client.
func adapterViewer(ctx context.Context, grant bool) error {
	c, err := gcp.NewClient(ctx, cluster.google)
	if err != nil {
		return err
	}
	cfg := identity.Config{Mode: identity.ModePrincipal, ProjectID: twinProject, ProjectNumber: twinProjectNumber}.WithDefaults()
	if grant {
		_, err = c.Ensure(ctx, cfg)
	} else {
		_, err = c.Remove(ctx, cfg)
	}
	return err
}

// twinProjectNumber is the number of the twin's project.
const twinProjectNumber = 123456789012

// needE2E skips t, saying why, when the e2e environment is not set.
func needE2E(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvE2E) == "" {
		t.Skip("e2e: set " + EnvE2E + "=1 (hack/ci-e2e.sh does) to run it on the twin")
	}
}

func connectTwin() error {
	cluster.kubeconfig = twinrun.Kubeconfig()
	cluster.google = gcp.OptionsFromEnv(nil)
	if cluster.google.IAMEndpoint == "" {
		return fmt.Errorf("the twin sets no %s: run it with --metrics", gcp.EnvIAMEndpoint)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 100, 200
	cluster.config = cfg
	if cluster.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	cluster.dyn, err = dynamic.NewForConfig(cfg)
	return err
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// revokeAdapterViewer takes the adapter's role (TestMain's grant) away in
// the twin's local Google API server until t ends.
func revokeAdapterViewer(t *testing.T) {
	t.Helper()
	if err := adapterViewer(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := adapterViewer(context.Background(), true); err != nil {
			t.Errorf("grant the adapter's role again: %v", err)
		}
	})
}
