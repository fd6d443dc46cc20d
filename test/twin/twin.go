// Package twin runs a local twin of a GKE cluster: real etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake,
// GKE-shaped GPU nodes), all on loopback. See docs/twin.md.
package twin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/native"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/runner"
)

// Twin is a running twin cluster.
type Twin struct {
	// Dir holds the PKI, data, configs and logs (logs/<component>.log).
	Dir string
	// Kubeconfig is an admin kubeconfig whose context is Context.
	Kubeconfig string
	// Context is the kubeconfig context, gke_PROJECT_LOCATION_CLUSTER.
	Context string
	// EgressSocket is the Unix socket of the apiserver's egress proxy.
	EgressSocket string
	// Config and Client reach the apiserver as cluster admin.
	Config *rest.Config
	Client kubernetes.Interface
	// Options the twin was started with (completed).
	Options Options

	ownsDir bool
	procs   []*process
	proxy   *egressProxy
	cancel  context.CancelFunc
	// Sim runs the simulated vLLM servers and DCGM exporters (nil unless
	// Options.Simulate).
	Sim *runner.Runner
	// GoogleURL is the base URL of the local IAM + Cloud Resource Manager
	// server (empty unless Options.GoogleAPI); see GoogleEnv.
	GoogleURL string
	// Metrics is the Managed Prometheus emulation, the local Cloud
	// Monitoring and the adapter pods' supervisor (nil unless
	// Options.Metrics).
	Metrics *Metrics
	// Native is the GKE-native metrics stand-in (nil unless Options.Native).
	Native    *native.Server
	nativeLog *os.File
	// versionProxy serves Options.ServerVersion (nil unless set).
	versionProxy *http.Server
}

// Start brings up a twin and returns when nodes are Ready and the default
// service account exists. On error everything started is stopped again.
func Start(ctx context.Context, opts Options) (*Twin, error) {
	if err := opts.Complete(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	t := &Twin{Options: opts, Dir: opts.Dir, Context: opts.Context()}
	if t.Dir == "" {
		dir, err := os.MkdirTemp("", "twin-")
		if err != nil {
			return nil, err
		}
		t.Dir, t.ownsDir = dir, true
	}
	began := time.Now()
	if err := t.start(ctx); err != nil {
		_ = t.stop(false) // keep the dir: its logs explain the failure
		return nil, fmt.Errorf("%w (logs in %s)", err, filepath.Join(t.Dir, "logs"))
	}
	t.logf("twin %s ready in %s (kubeconfig %s)", t.Context, time.Since(began).Round(10*time.Millisecond), t.Kubeconfig)
	return t, nil
}

func (t *Twin) logf(format string, args ...any) {
	fmt.Fprintf(t.Options.Log, format+"\n", args...)
}

func (t *Twin) start(ctx context.Context) error {
	o := &t.Options
	logDir := filepath.Join(t.Dir, "logs")
	for _, d := range []string{logDir, filepath.Join(t.Dir, "pod-logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	p, err := newPKI(filepath.Join(t.Dir, "pki"))
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kwokPort := ports[0], ports[1], ports[2], ports[3]
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	kc := func(name string, cert *keyPair) (string, error) {
		path := filepath.Join(t.Dir, name+".kubeconfig")
		return path, writeKubeconfig(path, server, t.Context, p.ca, cert)
	}
	if t.Kubeconfig, err = kc("admin", p.admin); err != nil {
		return err
	}
	cmKC, err := kc("controller-manager", p.controllerManager)
	if err != nil {
		return err
	}
	schedKC, err := kc("scheduler", p.scheduler)
	if err != nil {
		return err
	}
	kwokKC, err := kc("kwok", p.kwok)
	if err != nil {
		return err
	}
	socket := filepath.Join(t.Dir, "egress.sock")
	t.EgressSocket = socket
	egress, err := writeFile(t.Dir, "egress-selector.yaml", egressConfig(socket))
	if err != nil {
		return err
	}
	kwokAddr := "127.0.0.1:" + strconv.Itoa(kwokPort)
	kwokCfg, err := writeFile(t.Dir, "kwok.yaml", kwokConfig(kwokAddr, p.kwokServing, o.Simulate, o.Metrics != nil))
	if err != nil {
		return err
	}

	// The egress proxy listens first so that the apiserver finds it.
	if t.proxy, err = listenEgressProxy(socket, kwokAddr, filepath.Join(logDir, "egress-proxy.log")); err != nil {
		return err
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	if err := t.run(logDir, "etcd", "--name=twin", "--data-dir="+filepath.Join(t.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=twin="+peerURL, "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}
	if err := waitFor("etcd", 30*time.Second, t.procs, func() error { return httpOK(etcdURL + "/health") }); err != nil {
		return err
	}

	if err := t.run(logDir, "kube-apiserver", apiserverArgs(p, apiPort, etcdURL, egress)...); err != nil {
		return err
	}
	if t.Config, err = clientcmd.BuildConfigFromFlags("", t.Kubeconfig); err != nil {
		return err
	}
	t.Config.QPS, t.Config.Burst = 100, 200
	if t.Client, err = kubernetes.NewForConfig(t.Config); err != nil {
		return err
	}
	if err := waitFor("kube-apiserver /readyz", 60*time.Second, t.procs, func() error {
		return t.Client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
	}); err != nil {
		return err
	}
	if err := t.install(ctx); err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	if err := t.proxy.start(pctx, t.Config); err != nil {
		return err
	}

	if err := t.run(logDir, "kube-controller-manager", controllerManagerArgs(p, cmKC, o.HPASyncPeriod)...); err != nil {
		return err
	}
	if err := t.run(logDir, "kube-scheduler", "--kubeconfig="+schedKC, "--authentication-kubeconfig="+schedKC,
		"--authorization-kubeconfig="+schedKC, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"); err != nil {
		return err
	}
	if err := t.run(logDir, "kwok", "--kubeconfig="+kwokKC, "--config="+kwokCfg); err != nil {
		return err
	}
	if err := t.waitReady(ctx); err != nil {
		return err
	}
	if err := t.startGoogleAPI(logDir); err != nil {
		return err
	}
	if err := t.startSimulation(ctx); err != nil {
		return err
	}
	if err := t.startMetrics(ctx, logDir); err != nil {
		return err
	}
	if err := t.startNative(ctx); err != nil {
		return err
	}
	return t.startVersionProxy(p, server)
}

func (t *Twin) run(logDir, name string, args ...string) error {
	p, err := startProcess(t.Options.BinDir, logDir, name, args...)
	if err != nil {
		return err
	}
	t.procs = append(t.procs, p)
	return nil
}

func apiserverArgs(p *pki, port int, etcdURL, egress string) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
		"--endpoint-reconciler-type=none",
		"--service-cluster-ip-range=" + serviceCIDR,
		"--client-ca-file=" + p.ca.certPath,
		"--tls-cert-file=" + p.apiserver.certPath, "--tls-private-key-file=" + p.apiserver.keyPath,
		"--service-account-key-file=" + p.saPubPath, "--service-account-signing-key-file=" + p.saKeyPath,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--authorization-mode=Node,RBAC",
		"--kubelet-client-certificate=" + p.kubeletClient.certPath, "--kubelet-client-key=" + p.kubeletClient.keyPath,
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--proxy-client-cert-file=" + p.frontProxyClient.certPath, "--proxy-client-key-file=" + p.frontProxyClient.keyPath,
		"--requestheader-client-ca-file=" + p.frontProxyCA.certPath,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--egress-selector-config-file=" + egress,
		"--enable-aggregator-routing=false",
		"--allow-privileged=true",
		// As on GKE: pods requesting nvidia.com/gpu tolerate the GPU taint.
		"--enable-admission-plugins=ExtendedResourceToleration",
		"--shutdown-delay-duration=0s",
	}
}

func controllerManagerArgs(p *pki, kubeconfig string, hpaSync time.Duration) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
		"--controllers=" + controllers,
		"--service-account-private-key-file=" + p.saKeyPath,
		"--root-ca-file=" + p.ca.certPath,
		"--use-service-account-credentials=true",
		"--horizontal-pod-autoscaler-sync-period=" + hpaSync.String(),
		"--service-cluster-ip-range=" + serviceCIDR,
		"--allocate-node-cidrs=false",
	}
}

const controllers = "deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller," +
	"job-controller,cronjob-controller,horizontal-pod-autoscaler-controller,serviceaccount-controller," +
	"serviceaccount-token-controller,garbage-collector-controller,namespace-controller," +
	"endpoints-controller,endpointslice-controller,endpointslice-mirroring-controller," +
	"node-lifecycle-controller,taint-eviction-controller,pod-garbage-collector-controller," +
	"disruption-controller,resourcequota-controller,root-ca-certificate-publisher-controller," +
	"ttl-after-finished-controller,clusterrole-aggregation-controller"

func httpOK(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// Stop ends every process (waiting for each to exit), closes the egress
// proxy and, when Start made a temp dir, removes it.
func (t *Twin) Stop() error {
	if t == nil {
		return nil
	}
	return t.stop(t.ownsDir)
}

func (t *Twin) stop(removeDir bool) error {
	if t.Native != nil {
		t.Native.Stop()
		t.Native = nil
	}
	if t.versionProxy != nil {
		_ = t.versionProxy.Close()
		t.versionProxy = nil
	}
	if t.nativeLog != nil {
		t.nativeLog.Close()
		t.nativeLog = nil
	}
	if t.Metrics != nil {
		t.Metrics.Stop()
		t.Metrics = nil
	}
	if t.Sim != nil {
		t.Sim.Stop()
		t.Sim = nil
	}
	// The proxy's watches first: the apiserver waits for open watches
	// before it exits.
	if t.cancel != nil {
		t.cancel()
	}
	for i := len(t.procs) - 1; i >= 0; i-- {
		began := time.Now()
		if t.procs[i].stop(5 * time.Second) {
			t.logf("%s did not stop within 5s of SIGTERM: killed", t.procs[i].name)
		} else {
			t.logf("%s stopped in %s", t.procs[i].name, time.Since(began).Round(time.Millisecond))
		}
	}
	t.procs = nil
	var errs []error
	if t.proxy != nil {
		errs = append(errs, t.proxy.close())
	}
	if removeDir && t.Dir != "" {
		errs = append(errs, os.RemoveAll(t.Dir))
	}
	return errors.Join(errs...)
}

// PIDs are the process ids of the twin's control-plane processes and of
// the adapter processes running now.
func (t *Twin) PIDs() []int {
	var pids []int
	for _, p := range t.procs {
		if p.cmd.Process != nil {
			pids = append(pids, p.cmd.Process.Pid)
		}
	}
	if t.Metrics != nil && t.Metrics.Adapters != nil {
		pids = append(pids, t.Metrics.Adapters.PIDs()...)
	}
	return pids
}

// Logs returns the tail of one component's log ("kube-apiserver", "kwok",
// "egress-proxy", ...), for failure reports.
func (t *Twin) Logs(component string, lines int) string {
	return tail(filepath.Join(t.Dir, "logs", component+".log"), lines)
}
