// Package e2e runs kubectl infer-hpa against the local GKE twin, started
// with the twin's own binary through test/twinrun (`twin exec`: as root in a
// network namespace with only lo); the plugin reaches it only through a
// kubeconfig, as it would reach GKE.
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
}

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
	}
	// A short HPA sync period keeps the scaling test quick.
	twinrun.MainWith(m, "--hpa-sync-period=2s")
}

// needE2E skips t, saying why, when the e2e environment is not set.
func needE2E(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvE2E) == "" {
		t.Skip("e2e: set " + EnvE2E + "=1 (hack/ci-e2e.sh does) to run it on the twin")
	}
}

func connectTwin() error {
	cluster.kubeconfig = twinrun.Kubeconfig()
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
