// Package adapter is the twin's custom-metrics Stackdriver adapter: a real
// aggregated API server (sigs.k8s.io/custom-metrics-apiserver) serving
// custom.metrics.k8s.io v1beta1/v1beta2 and external.metrics.k8s.io v1beta1
// from the Managed Prometheus emulation's store (package gmp), with the real
// adapter's metric naming, values, errors, log lines and identity check. It
// is reached only through the plugin's own adapter Deployment: each ready
// adapter pod's https port is mapped to this server (kwok PortForward), so
// the aggregator gets there through the real Service and APIServices. See
// the README section "The twin's metrics pipeline".
package adapter

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
)

// Namespace and image marker of the plugin's adapter Deployment.
const (
	Namespace   = "custom-metrics"
	ImageMarker = "custom-metrics-stackdriver-adapter"
)

// IdentityChecker answers whether a pod running as namespace/ksa (with gsa
// from its iam.gke.io/gcp-service-account annotation, "" for none) holds
// role on project through Workload Identity: how ("principal", "gsa"), or ""
// when it does not. gcpfake.Server.IdentityHasRole and GCPFakeURL answer it.
type IdentityChecker interface {
	IdentityHasRole(ctx context.Context, project, namespace, ksa, gsa, role string) (string, error)
}

// Host is what the adapter needs from the twin (twin.Twin provides it).
type Host struct {
	Client kubernetes.Interface
	// Kubeconfig reaches the apiserver as admin (delegated authn/authz, listers).
	Kubeconfig string
	// Dir receives the serving certificate (Dir/adapter-certs).
	Dir            string
	ForwardPodPort func(ctx context.Context, namespace, pod string, port int32, target string) error
	PodLogFile     func(ctx context.Context, namespace, pod, container string) (string, error)
	AppendLog      func(path string, lines ...string) error
}

// Options shape the adapter.
type Options struct {
	// Project, Location, Cluster are the resource labels every query is
	// restricted to (the twin's).
	Project, Location, Cluster string
	// Store is the Managed Prometheus emulation's store.
	Store *gmp.Store
	// Identity enforces Workload Identity; required.
	Identity IdentityChecker
	// Window is how far back a gauge's latest point is looked for (default 5m).
	Window time.Duration
	// RateWindow is the span a counter's rate is taken over (default 1m).
	RateWindow time.Duration
	// Log receives the server library's own lines; nil discards them. The
	// adapter's query lines go to the adapter pod's log.
	Log io.Writer
}

// Adapter is a running stand-in adapter.
type Adapter struct {
	// Addr is the loopback address of the HTTPS server.
	Addr string

	opts   Options
	host   Host
	client kubernetes.Interface
	pods   cache.SharedIndexInformer // all pods: adapter pods and HPA targets

	mu      sync.Mutex
	mapped  map[string]bool   // adapter pods whose port is forwarded here
	logPath map[string]string // adapter pod → its log file
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start runs the adapter's API server on loopback and maps every ready
// adapter pod's https port to it until Stop.
func Start(ctx context.Context, host Host, opts Options) (*Adapter, error) {
	if opts.Store == nil || opts.Identity == nil {
		return nil, fmt.Errorf("adapter: Options.Store and Options.Identity are required")
	}
	if opts.Window == 0 {
		opts.Window = 5 * time.Minute
	}
	if opts.RateWindow == 0 {
		opts.RateWindow = time.Minute
	}
	a := &Adapter{opts: opts, host: host, client: host.Client, mapped: map[string]bool{}, logPath: map[string]string{}, done: make(chan struct{})}
	ctx, a.cancel = context.WithCancel(ctx)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.Addr = ln.Addr().String()
	certDir := filepath.Join(host.Dir, "adapter-certs")
	base := &basecmd.AdapterBase{Name: "custom-metrics-stackdriver-adapter", FlagSet: pflag.NewFlagSet("adapter", pflag.ContinueOnError)}
	base.Flags().SetOutput(io.Discard)
	if err := base.Flags().Parse([]string{
		"--cert-dir=" + certDir,
		"--authentication-kubeconfig=" + host.Kubeconfig, "--authorization-kubeconfig=" + host.Kubeconfig,
		"--lister-kubeconfig=" + host.Kubeconfig,
	}); err != nil {
		ln.Close()
		return nil, err
	}
	base.SecureServing.Listener = ln
	base.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	base.WithCustomMetrics(a)
	base.WithExternalMetrics(a)
	srv, err := base.Server()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("adapter: %w", err)
	}

	f := informers.NewSharedInformerFactory(host.Client, 0)
	a.pods = f.Core().V1().Pods().Informer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.pods.HasSynced) {
		a.cancel()
		return nil, fmt.Errorf("adapter: pod informer did not sync")
	}
	go func() {
		defer close(a.done)
		err := srv.GenericAPIServer.PrepareRun().RunWithContext(ctx)
		if err != nil && opts.Log != nil {
			fmt.Fprintln(opts.Log, "adapter: server:", err)
		}
	}()
	go a.mapPods(ctx)
	return a, nil
}

// Stop ends the server.
func (a *Adapter) Stop() {
	a.cancel()
	<-a.done
}

// mapPods forwards each ready adapter pod's https port (6443, or 443) to the
// server and gives it a log file, once per pod.
func (a *Adapter) mapPods(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, obj := range a.pods.GetStore().List() {
			pod := obj.(*corev1.Pod)
			if !isAdapterPod(pod) || !ready(pod) {
				continue
			}
			a.mu.Lock()
			done := a.mapped[pod.Name]
			a.mu.Unlock()
			if !done {
				if err := a.mapPod(ctx, pod); err != nil && ctx.Err() == nil {
					fmt.Fprintf(a.logOut(), "adapter: map pod %s: %v\n", pod.Name, err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (a *Adapter) logOut() io.Writer {
	if a.opts.Log == nil {
		return io.Discard
	}
	return a.opts.Log
}

func (a *Adapter) mapPod(ctx context.Context, pod *corev1.Pod) error {
	var container string
	for _, c := range pod.Spec.Containers {
		if !strings.Contains(c.Image, ImageMarker) {
			continue
		}
		container = c.Name
		for _, p := range c.Ports {
			if p.ContainerPort == 6443 || p.ContainerPort == 443 || p.Name == "https" {
				if err := a.host.ForwardPodPort(ctx, pod.Namespace, pod.Name, p.ContainerPort, a.Addr); err != nil {
					return err
				}
			}
		}
	}
	path, err := a.host.PodLogFile(ctx, pod.Namespace, pod.Name, container)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.mapped[pod.Name] = true
	a.logPath[pod.Name] = path
	a.mu.Unlock()
	a.logf('I', "adapter.go:112", "serving custom.metrics.k8s.io and external.metrics.k8s.io on :%d (twin stand-in for project %s)", 6443, a.opts.Project)
	return nil
}

func isAdapterPod(pod *corev1.Pod) bool {
	if pod.Namespace != Namespace || pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Spec.Containers {
		if strings.Contains(c.Image, ImageMarker) {
			return true
		}
	}
	return false
}

func ready(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return pod.Status.Phase == corev1.PodRunning && c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readyPod is the ready adapter pod queries are attributed to.
func (a *Adapter) readyPod() (*corev1.Pod, bool) {
	for _, obj := range a.pods.GetStore().List() {
		pod := obj.(*corev1.Pod)
		if isAdapterPod(pod) && ready(pod) {
			return pod, true
		}
	}
	return nil, false
}

// logf appends a klog-formatted line to every mapped adapter pod's log.
func (a *Adapter) logf(severity byte, where, format string, args ...any) {
	now := time.Now()
	line := fmt.Sprintf("%c%s %7d %s] %s", severity, now.Format("0102 15:04:05.000000"), 1, where, fmt.Sprintf(format, args...))
	a.mu.Lock()
	var paths []string
	for _, p := range a.logPath {
		paths = append(paths, p)
	}
	a.mu.Unlock()
	for _, p := range paths {
		if err := a.host.AppendLog(p, line); err != nil && !os.IsNotExist(err) {
			fmt.Fprintf(a.logOut(), "adapter: log: %v\n", err)
		}
	}
}
