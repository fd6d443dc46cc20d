package twin_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
)

// tw is the twin every test in this package shares (starting one is ≈4 s).
var tw *twin.Twin

func TestMain(m *testing.M) {
	// As root the whole test binary re-runs in a network namespace with only lo.
	twin.MainInNetNS()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	var err error
	tw, err = twin.Start(ctx, twin.Options{Log: os.Stderr, HPASyncPeriod: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "twin: start:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "twin: started in %s (own network namespace: %v)\n", time.Since(began).Round(time.Millisecond), twin.InOwnNetNS())
	leaks.start()
	code := m.Run()
	leaks.stop()
	if code != 0 {
		for _, c := range []string{"kube-apiserver", "kwok", "kube-controller-manager", "egress-proxy"} {
			fmt.Fprintf(os.Stderr, "--- %s log (tail)\n%s\n", c, tw.Logs(c, 15))
		}
	}
	stopped := time.Now()
	if err := tw.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "twin: stop:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "twin: stopped in %s\n", time.Since(stopped).Round(time.Millisecond))
	return code
}
