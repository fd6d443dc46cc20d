// Package dcgm is a simulated NVIDIA DCGM exporter for one GPU node: the
// DCGM_FI_DEV_* gauges of dcgm-exporter, per GPU, labelled like the exporter
// does with Kubernetes pod mapping on, with values derived from the load of
// the workload on each GPU.
package dcgm

import (
	"crypto/sha256"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/loopback"
)

// Load is what the exporter learns about the workload on a GPU.
type Load struct {
	// Busy is the cumulative wall-clock time during which the GPU ran
	// kernels (the vLLM engine had a running batch).
	Busy time.Duration
	// BatchFill is the running batch over its limit (0–1).
	BatchFill float64
}

// GPU is one device and the container that holds it, if any.
type GPU struct {
	// Pod, Namespace and Container name the workload holding the GPU;
	// empty when none does.
	Pod, Namespace, Container string
	// Load samples the workload; nil when no simulated server runs there.
	Load func() Load
}

// Node describes the GPU node the exporter runs on.
type Node struct {
	Hostname string
	// Accelerator is the GKE accelerator label (nvidia-l4, nvidia-tesla-t4…).
	Accelerator string
	// GPUs returns the node's devices, index = position.
	GPUs func() []GPU
	// Interval is the sampling period of GPU utilisation (dcgm-exporter's
	// collect interval); 0 means 1s.
	Interval time.Duration
}

// device is what nvidia-smi would report for an accelerator type.
type device struct {
	model    string
	memMiB   float64
	idleW    float64
	maxW     float64
	loadedMB float64 // vLLM takes gpu_memory_utilization (0.9) of memory
}

var devices = map[string]device{
	"nvidia-l4":             {"NVIDIA L4", 23034, 16, 72, 0.9 * 23034},
	"nvidia-tesla-t4":       {"Tesla T4", 15360, 10, 70, 0.9 * 15360},
	"nvidia-tesla-a100":     {"NVIDIA A100-SXM4-40GB", 40960, 50, 400, 0.9 * 40960},
	"nvidia-a100-80gb":      {"NVIDIA A100-SXM4-80GB", 81920, 60, 400, 0.9 * 81920},
	"nvidia-h100-80gb":      {"NVIDIA H100 80GB HBM3", 81559, 70, 700, 0.9 * 81559},
	"nvidia-h100-mega-80gb": {"NVIDIA H100 80GB HBM3", 81559, 70, 700, 0.9 * 81559},
}

// idleUsedMiB is the framebuffer the driver holds with no process.
const idleUsedMiB = 1

const driverVersion = "535.230.02"

// Exporter serves one node's DCGM metrics.
type Exporter struct {
	node Node
	dev  device
	reg  *prometheus.Registry
	srv  *http.Server
	ln   net.Listener
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	util map[int]float64 // GPU_UTIL over the last interval, by index
	last map[int]time.Duration
}

// New builds an exporter; serve it with Handler or Start.
func New(n Node) *Exporter {
	dev, ok := devices[n.Accelerator]
	if !ok {
		dev = devices["nvidia-l4"]
	}
	if n.Interval <= 0 {
		n.Interval = time.Second
	}
	e := &Exporter{node: n, dev: dev, reg: prometheus.NewRegistry(), util: map[int]float64{}, last: map[int]time.Duration{},
		stop: make(chan struct{}), done: make(chan struct{})}
	e.reg.MustRegister(e)
	go e.sample()
	return e
}

// Start builds an exporter and serves /metrics on addr (loopback only).
func Start(n Node, addr string) (*Exporter, error) {
	ln, err := loopback.Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("dcgm: %w", err)
	}
	e := New(n)
	e.ln = ln
	e.srv = &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

// Addr is the address Start listens on.
func (e *Exporter) Addr() string { return e.ln.Addr().String() }

// Handler serves /metrics.
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}))
	return mux
}

// Close stops sampling and serving.
func (e *Exporter) Close() error {
	close(e.stop)
	<-e.done
	if e.srv != nil {
		return e.srv.Close()
	}
	return nil
}

// sample computes GPU_UTIL as dcgm does: the share of the last interval in
// which a kernel ran.
func (e *Exporter) sample() {
	defer close(e.done)
	tick := time.NewTicker(e.node.Interval)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		}
		e.mu.Lock()
		for i, g := range e.node.GPUs() {
			if g.Load == nil {
				e.util[i], e.last[i] = 0, 0
				continue
			}
			busy := g.Load().Busy
			prev, seen := e.last[i]
			e.last[i] = busy
			if !seen || busy < prev {
				continue
			}
			e.util[i] = math.Round(min(100, 100*float64(busy-prev)/float64(e.node.Interval)))
		}
		e.mu.Unlock()
	}
}

var (
	labelNames = []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}
	podLabels  = []string{"container", "namespace", "pod"}
	descs      = map[string]string{
		"DCGM_FI_DEV_GPU_UTIL":    "GPU utilization (in %).",
		"DCGM_FI_DEV_FB_USED":     "Framebuffer memory used (in MiB).",
		"DCGM_FI_DEV_FB_FREE":     "Framebuffer memory free (in MiB).",
		"DCGM_FI_DEV_POWER_USAGE": "Power draw (in W).",
	}
)

// Describe sends nothing: the label set differs between GPUs with and
// without a workload, as in dcgm-exporter, so the collector is unchecked.
func (e *Exporter) Describe(chan<- *prometheus.Desc) {}

// Collect reports every GPU of the node.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, g := range e.node.GPUs() {
		names, values := labelNames, []string{strconv.Itoa(i), e.uuid(i), fmt.Sprintf("00000000:00:%02X.0", 4+i),
			"nvidia" + strconv.Itoa(i), e.dev.model, e.node.Hostname, driverVersion}
		if g.Pod != "" {
			names = append(append([]string{}, names...), podLabels...)
			values = append(values, g.Container, g.Namespace, g.Pod)
		}
		util, used, fill := 0.0, float64(idleUsedMiB), 0.0
		if g.Load != nil {
			util, used, fill = e.util[i], e.dev.loadedMB, g.Load().BatchFill
		}
		power := e.dev.idleW + (e.dev.maxW-e.dev.idleW)*util/100*(0.6+0.4*fill)
		for name, v := range map[string]float64{
			"DCGM_FI_DEV_GPU_UTIL": util, "DCGM_FI_DEV_FB_USED": used,
			"DCGM_FI_DEV_FB_FREE": e.dev.memMiB - used, "DCGM_FI_DEV_POWER_USAGE": power,
		} {
			desc := prometheus.NewDesc(name, descs[name], names, nil)
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, values...)
		}
	}
}

// uuid is a stable GPU-xxxxxxxx-… identifier per node and index.
func (e *Exporter) uuid(i int) string {
	h := sha256.Sum256([]byte(e.node.Hostname + "/" + strconv.Itoa(i)))
	return fmt.Sprintf("GPU-%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
