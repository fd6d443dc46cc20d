package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
)

// state is what `twin run` leaves in the state dir for up/env/down.
type state struct {
	PID        int    `json:"pid"`
	Kubeconfig string `json:"kubeconfig"`
	Context    string `json:"context"`
	Dir        string `json:"dir"`
}

func defaultStateDir() string {
	if d := os.Getenv("INFER_HPA_TWIN_STATE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "infer-hpa-twin")
}

func statePath(dir string) string { return filepath.Join(dir, "state.json") }

func readState(dir string) (*state, error) {
	b, err := os.ReadFile(statePath(dir))
	if err != nil {
		return nil, err
	}
	s := &state{}
	return s, json.Unmarshal(b, s)
}

func writeState(dir string, s *state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(dir))
}

// clusterFlags are the twin.Options a user may set.
type clusterFlags struct {
	opts twin.Options
}

func (f *clusterFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.opts.Project, "project", "twin-project", "GCP project named in the context and provider IDs")
	fs.StringVar(&f.opts.Location, "location", "us-central1", "cluster location named in the context")
	fs.StringVar(&f.opts.Zone, "zone", "us-central1-a", "zone of the nodes")
	fs.StringVar(&f.opts.Cluster, "cluster", "twin", "cluster name")
	fs.IntVar(&f.opts.GPUNodes, "gpu-nodes", 2, "nodes in the GPU pool")
	fs.IntVar(&f.opts.GPUsPerNode, "gpus-per-node", 1, "nvidia.com/gpu capacity of each GPU node")
	fs.StringVar(&f.opts.GPUType, "gpu-type", "nvidia-l4", "cloud.google.com/gke-accelerator of the GPU nodes")
	fs.IntVar(&f.opts.CPUNodes, "cpu-nodes", 1, "nodes in the CPU pool")
	fs.DurationVar(&f.opts.HPASyncPeriod, "hpa-sync-period", 15*time.Second, "--horizontal-pod-autoscaler-sync-period of the controller manager")
	fs.StringVar(&f.opts.BinDir, "bin-dir", "", "folder with the control-plane binaries (default: next to this binary)")
	fs.StringVar(&f.opts.CRDDir, "crd-dir", "", "folder with CRDs to install (default: shared/testdata/crds found upwards, or $"+twin.EnvCRDDir+")")
}

// args renders the flags back for a child `twin run`.
func (f *clusterFlags) args() []string {
	o := f.opts
	a := []string{"--project=" + o.Project, "--location=" + o.Location, "--zone=" + o.Zone, "--cluster=" + o.Cluster,
		"--gpu-nodes=" + itoa(o.GPUNodes), "--gpus-per-node=" + itoa(o.GPUsPerNode), "--gpu-type=" + o.GPUType,
		"--cpu-nodes=" + itoa(o.CPUNodes), "--hpa-sync-period=" + o.HPASyncPeriod.String()}
	if o.BinDir != "" {
		a = append(a, "--bin-dir="+o.BinDir)
	}
	if o.CRDDir != "" {
		a = append(a, "--crd-dir="+o.CRDDir)
	}
	return a
}
