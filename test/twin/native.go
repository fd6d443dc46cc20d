package twin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/native"
)

// startNative starts the stand-in for GKE's managed metrics adapter when
// Options.Native is set (package native).
func (t *Twin) startNative(ctx context.Context) error {
	if t.Options.Native == nil {
		return nil
	}
	opts := *t.Options.Native
	if opts.Log == nil {
		f, err := os.OpenFile(filepath.Join(t.Dir, "logs", "native.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		t.nativeLog, opts.Log = f, f
	}
	s, err := native.Start(ctx, native.Host{
		Config: t.Config, Kubeconfig: t.Kubeconfig, Dir: t.Dir,
		ForwardPodPort: t.ForwardPodPort, PodTarget: t.PodTarget,
	}, opts)
	if err != nil {
		return fmt.Errorf("GKE-native metrics stand-in: %w", err)
	}
	t.Native = s
	t.logf("GKE-native metrics stand-in: AutoscalingMetric served, custom.metrics.k8s.io on %s", s.Addr)
	return nil
}
