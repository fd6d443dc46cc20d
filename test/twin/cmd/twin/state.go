package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/runner"
)

// state is what `twin run` leaves in the state dir for up/env/down.
type state struct {
	PID        int    `json:"pid"`
	Kubeconfig string `json:"kubeconfig"`
	Context    string `json:"context"`
	Dir        string `json:"dir"`
	// EgressSocket reaches pods and Services (twin load uses it).
	EgressSocket string `json:"egressSocket,omitempty"`
	// GoogleEnv points gcloud and the plugin at the local Google API server.
	GoogleEnv []string `json:"googleEnv,omitempty"`
	// EnvFile holds KUBECONFIG and GoogleEnv as shell exports.
	EnvFile string `json:"envFile,omitempty"`
	// Demo: the tutorial's workload was applied.
	Demo bool `json:"demo,omitempty"`
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
	opts     twin.Options
	simulate bool
	sim      runner.Options
	// demo: simulation, the local Google API server and the tutorial's
	// workload, with a realistic model-load delay.
	demo bool
	// metrics: the metrics pipeline (Managed Prometheus emulation, local
	// Cloud Monitoring, the real adapter for the adapter pods; implies the
	// local Google API server).
	metrics        bool
	ingestionDelay time.Duration
	// backOff, maxBackOff: the adapter container's restart back-off
	// (0: a kubelet's 10s doubling to 5m).
	backOff, maxBackOff time.Duration
}

const (
	testLoadDelay = 2 * time.Second
	demoLoadDelay = 30 * time.Second
)

// options are the twin.Options the flags ask for.
func (f *clusterFlags) options() twin.Options {
	o := f.opts
	if f.simulate || f.demo {
		sim := f.sim
		if sim.ModelLoadDelay == 0 {
			sim.ModelLoadDelay = testLoadDelay
			if f.demo {
				sim.ModelLoadDelay = demoLoadDelay
			}
		}
		o.Simulate = &sim
	}
	if f.metrics || f.demo {
		o.Metrics = &twin.MetricsOptions{IngestionDelay: f.ingestionDelay, BackOff: f.backOff, MaxBackOff: f.maxBackOff}
	}
	o.GoogleAPI = o.GoogleAPI || f.demo || f.metrics
	return o
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
	fs.BoolVar(&f.simulate, "simulate", false, "run a simulated vLLM server behind every vLLM pod and a DCGM exporter pod per GPU node")
	fs.Float64Var(&f.sim.Speed, "sim-speed", 1, "simulated model seconds per wall-clock second (with --simulate)")
	fs.DurationVar(&f.sim.ModelLoadDelay, "model-load-delay", 0, "time from a vLLM pod's start to Ready (default 2s, 30s with --demo)")
	fs.BoolVar(&f.sim.LegacyMetrics, "legacy-vllm-metrics", false, "simulated servers also expose vllm:gpu_cache_usage_perc, like vLLM before v0.10")
	fs.BoolVar(&f.opts.GoogleAPI, "google-api", false, "run the local Google API server (IAM, Cloud Resource Manager) for project --project")
	fs.Int64Var(&f.opts.ProjectNumber, "project-number", twin.DefaultProjectNumber, "number of --project in the local Google API server")
	fs.BoolVar(&f.metrics, "metrics", false, "run the metrics pipeline: Managed Prometheus emulation, local Cloud Monitoring, and the real Stackdriver adapter for the pods of the adapter Deployment you apply (implies --google-api)")
	fs.DurationVar(&f.ingestionDelay, "ingestion-delay", 0, "with --metrics: how long a scraped point takes to become queryable (Cloud Monitoring's lag)")
	fs.DurationVar(&f.backOff, "adapter-backoff", 0, "with --metrics: the adapter container's first restart back-off (default 10s, a kubelet's)")
	fs.DurationVar(&f.maxBackOff, "adapter-max-backoff", 0, "with --metrics: the cap of the adapter container's doubling restart back-off (default 5m, a kubelet's)")
}

// addDemoFlag adds --demo (up and run only).
func (f *clusterFlags) addDemoFlag(fs *pflag.FlagSet) {
	fs.BoolVar(&f.demo, "demo", false, "simulation + local Google API server + the tutorial's vllm-gemma-deployment and vllm-service; writes an env file")
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
	a = append(a, "--simulate="+strconv.FormatBool(f.simulate), "--sim-speed="+strconv.FormatFloat(f.sim.Speed, 'g', -1, 64),
		"--model-load-delay="+f.sim.ModelLoadDelay.String(), "--legacy-vllm-metrics="+strconv.FormatBool(f.sim.LegacyMetrics),
		"--google-api="+strconv.FormatBool(o.GoogleAPI), "--project-number="+strconv.FormatInt(o.ProjectNumber, 10),
		"--demo="+strconv.FormatBool(f.demo), "--metrics="+strconv.FormatBool(f.metrics), "--ingestion-delay="+f.ingestionDelay.String(),
		"--adapter-backoff="+f.backOff.String(), "--adapter-max-backoff="+f.maxBackOff.String())
	return a
}
