package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// EnvDemo turns TestDemo on; hack/demo-watch.sh (make demo) sets it and runs
// the compiled test binary in your terminal.
const EnvDemo = "INFER_HPA_DEMO"

// demoSteps is the load the demo drives, in requests running over all
// pods, each held for a step: up to 4 replicas (target 4 per pod), back
// down to 1 after the tutorial's 30 s scale-down window, and again.
var demoSteps = []float64{1, 3, 6, 10, 14, 14, 14, 8, 4, 1, 1, 1}

// TestDemo is the tutorial on the twin for a person to watch: `setup` with
// Workload Identity granted in the local Google API server, a load that
// steps up and down, and `kubectl infer-hpa watch` on this terminal until
// you quit it (q), INFER_HPA_DEMO_TIMEOUT passes, or a signal arrives.
// Cleanup (and, in TestMain, `twin down`) runs either way.
func TestDemo(t *testing.T) {
	if os.Getenv(EnvDemo) == "" {
		t.Skip("set INFER_HPA_DEMO=1 (make demo does) to run the demo")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	w := newTutorialWorld(t, "demo")
	bin := mustPluginBinary(t)

	step := 15 * time.Second
	if d, err := time.ParseDuration(os.Getenv("INFER_HPA_DEMO_STEP")); err == nil && d > 0 {
		step = d
	}
	go func() {
		for ctx.Err() == nil {
			w.ramp(ctx, step, demoSteps...)
		}
	}()

	args := []string{"watch", vllmName, "-n", w.ns, "--kubeconfig", cluster.kubeconfig, "--metrics-interval", "2s"}
	if d := os.Getenv("INFER_HPA_DEMO_TIMEOUT"); d != "" {
		args = append(args, "--timeout", d)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && ctx.Err() != nil) {
		t.Errorf("watch: %v", err)
	}
}
