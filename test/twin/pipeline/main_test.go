package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/pipeline/adaptertest"
)

// The twin every test here shares: a short HPA sync period, the local
// Google API server and the metrics pipeline (Managed Prometheus emulation,
// local Cloud Monitoring, the real adapter); the tests apply the plugin's own adapter manifests
// (embedded/library/adapter) with kubectl apply -k.
var (
	tw   *twin.Twin
	col  *gmp.Collector
	env  *adaptertest.Env
	repo string // repository root
)

func TestMain(m *testing.M) {
	twin.MainInNetNS()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	if repo, err = filepath.Abs("../../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tw, err = twin.Start(ctx, twin.Options{
		Log: os.Stderr, HPASyncPeriod: 2 * time.Second, GoogleAPI: true,
		// A shorter restart back-off than a kubelet's 10s keeps the crash-loop test short.
		Metrics: &twin.MetricsOptions{IngestionDelay: time.Second, BackOff: 2 * time.Second, MaxBackOff: 8 * time.Second},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin: start:", err)
		return 1
	}
	defer tw.Stop()
	col = tw.Metrics.GMP
	if env, err = adaptertest.New(tw, repo); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		for _, c := range []string{"kube-controller-manager", "egress-proxy", "metrics"} {
			fmt.Fprintf(os.Stderr, "--- %s log (tail)\n%s\n", c, tw.Logs(c, 30))
		}
	}
	return code
}
