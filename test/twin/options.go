package twin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/native"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/runner"
)

const (
	serviceCIDR        = "10.96.0.0/16"
	serviceAPIServerIP = "10.96.0.1"
	kubeletPort        = 10250
	// EnvBinDir names the folder with the twin's binaries (see hack/build-twin.sh).
	EnvBinDir = "INFER_HPA_TWIN_BIN"
	// EnvCRDDir names the folder with the Managed Prometheus CRDs.
	EnvCRDDir = "INFER_HPA_TWIN_CRDS"
)

// Options shape a twin. The zero value is usable: Complete fills in defaults.
type Options struct {
	// Dir holds the twin's PKI, data, configs and logs. Empty: a new temp dir,
	// removed by Stop.
	Dir string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok. Empty: $INFER_HPA_TWIN_BIN, else test/twin/.bin
	// found by walking up from the working directory.
	BinDir string
	// CRDDir holds CRD manifests installed at start-up. Empty:
	// $INFER_HPA_TWIN_CRDS, else the first shared/testdata/crds found walking
	// up from the working directory.
	CRDDir string

	// Project, Location and Cluster name the kubeconfig context
	// gke_PROJECT_LOCATION_CLUSTER; Zone is used in node provider IDs.
	Project, Location, Zone, Cluster string

	// GPUNodes nodes in pool GPUPool carry GPUsPerNode nvidia.com/gpu of type
	// GPUType; CPUNodes nodes in pool CPUPool run system pods.
	GPUNodes, GPUsPerNode, CPUNodes int
	GPUType, GPUPool, CPUPool       string

	// HPASyncPeriod is the HPA controller's sync period (default 15s as on GKE).
	HPASyncPeriod time.Duration

	// GoogleAPI runs the local IAM + Cloud Resource Manager stand-in
	// (test/gcpfake's command, BinDir/gcpfake) with project Project numbered
	// ProjectNumber (default DefaultProjectNumber); see Twin.GoogleURL and
	// Twin.GoogleEnv.
	GoogleAPI     bool
	ProjectNumber int64

	// Simulate, when set, runs the simulation (test/twin/sim/runner): a
	// simulated vLLM server behind every vLLM pod, a DCGM exporter pod per
	// GPU node, and kwok stages that keep vLLM pods unready while the model
	// loads.
	Simulate *runner.Options

	// Metrics, when set, runs the metrics pipeline (Managed Prometheus
	// emulation, local Cloud Monitoring, and the real Stackdriver adapter
	// for every adapter pod; needs GoogleAPI and BinDir/AdapterBinary).
	Metrics *MetricsOptions

	// Native, when set, serves GKE's AutoscalingMetric (package native: our
	// CRD from GKE's docs, and a stand-in for GKE's managed metrics adapter
	// on custom.metrics.k8s.io).
	Native *native.Options
	// ServerVersion, when set, is the GKE-shaped version (v1.35.2-gke.1485000)
	// clients of Twin.Kubeconfig see at /version (a loopback proxy in front
	// of the apiserver; see version.go).
	ServerVersion string

	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Complete fills in defaults.
func (o *Options) Complete() error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Project, "twin-project")
	def(&o.Location, "us-central1")
	def(&o.Zone, "us-central1-a")
	def(&o.Cluster, "twin")
	def(&o.GPUType, "nvidia-l4")
	def(&o.GPUPool, "gpu-pool")
	def(&o.CPUPool, "default-pool")
	if o.GPUNodes == 0 {
		o.GPUNodes = 2
	}
	if o.GPUsPerNode == 0 {
		o.GPUsPerNode = 1
	}
	if o.CPUNodes == 0 {
		o.CPUNodes = 1
	}
	if o.HPASyncPeriod == 0 {
		o.HPASyncPeriod = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Simulate != nil {
		o.Simulate.Complete()
	}
	if o.ProjectNumber == 0 {
		o.ProjectNumber = DefaultProjectNumber
	}
	var err error
	if o.BinDir == "" {
		if o.BinDir, err = findBinDir(); err != nil {
			return err
		}
	}
	if o.CRDDir == "" {
		if o.CRDDir, err = findCRDDir(); err != nil {
			return err
		}
	}
	return nil
}

// Validate reports options no twin can be built from.
func (o *Options) Validate() error {
	if o.GPUNodes < 0 || o.CPUNodes < 0 || o.GPUsPerNode < 0 {
		return errors.New("twin: node and GPU counts must not be negative")
	}
	need := binaries
	if o.GoogleAPI {
		need = append(need[:len(need):len(need)], "gcpfake")
	}
	if o.Metrics != nil {
		need = append(need[:len(need):len(need)], AdapterBinary)
	}
	for _, b := range need {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return fmt.Errorf("twin: %s missing in %s; build it with hack/build-twin.sh or set %s", b, o.BinDir, EnvBinDir)
		}
	}
	return nil
}

// Context is the kubeconfig context name, shaped like GKE's.
func (o *Options) Context() string {
	return fmt.Sprintf("gke_%s_%s_%s", o.Project, o.Location, o.Cluster)
}

var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

func findBinDir() (string, error) {
	if d := os.Getenv(EnvBinDir); d != "" {
		return d, nil
	}
	if exe, err := os.Executable(); err == nil {
		// The twin command lives next to the binaries it starts.
		dir := filepath.Dir(exe)
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err == nil {
			return dir, nil
		}
	}
	d, err := walkUp(filepath.Join("test", "twin", ".bin", "kube-apiserver"))
	if err != nil {
		return "", fmt.Errorf("twin: binaries not found (%v); run hack/build-twin.sh or set %s", err, EnvBinDir)
	}
	return filepath.Dir(d), nil
}

func findCRDDir() (string, error) {
	if d := os.Getenv(EnvCRDDir); d != "" {
		return d, nil
	}
	d, err := walkUp(filepath.Join("shared", "testdata", "crds"))
	if err != nil {
		return "", fmt.Errorf("twin: Managed Prometheus CRDs not found (%v); set %s", err, EnvCRDDir)
	}
	return d, nil
}

// walkUp looks for rel in the working directory and each of its parents.
func walkUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s in any parent folder", rel)
		}
		dir = parent
	}
}
