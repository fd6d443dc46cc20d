package twin

import (
	"context"
	"fmt"

	"k8s.io/client-go/dynamic"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/runner"
)

// startSimulation starts the simulation runner when Options.Simulate is set.
func (t *Twin) startSimulation(ctx context.Context) error {
	if t.Options.Simulate == nil {
		return nil
	}
	dyn, err := dynamic.NewForConfig(t.Config)
	if err != nil {
		return err
	}
	t.Sim, err = runner.Start(ctx, runner.Host{
		Client: t.Client, Dynamic: dyn,
		ForwardPodPort: t.ForwardPodPort, PodLogFile: t.PodLogFile, AppendLog: AppendLog,
		Log: t.Options.Log,
	}, *t.Options.Simulate)
	if err != nil {
		return fmt.Errorf("simulation: %w", err)
	}
	return nil
}
