package adapterpod

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/metadataserver"
)

// podRun is one adapter pod's container, run and restarted like a kubelet.
type podRun struct {
	s         *Supervisor
	pod       *corev1.Pod // as first seen
	container corev1.Container
	dir       string

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	cmd *exec.Cmd
}

func newPodRun(s *Supervisor, pod *corev1.Pod) *podRun {
	r := &podRun{s: s, pod: pod.DeepCopy(), container: pod.Spec.Containers[adapterContainer(pod)], done: make(chan struct{})}
	r.dir = filepath.Join(s.o.Dir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, string(pod.UID)[:8]))
	return r
}

func (r *podRun) logf(format string, args ...any) {
	r.s.logf("%s/%s: "+format, append([]any{r.pod.Namespace, r.pod.Name}, args...)...)
}

func (r *podRun) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil && r.cmd.Process != nil {
		return r.cmd.Process.Pid
	}
	return 0
}

func (r *podRun) stop() {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-r.done
	}
}

// env is what the container's environment and the node give one start.
type env struct {
	argv      []string
	vars      []string
	servePort int
}

func (r *podRun) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	r.mu.Lock()
	r.ctx, r.cancel = ctx, cancel
	r.mu.Unlock()
	defer close(r.done)
	defer cancel()
	e, closeMD, err := r.prepare(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.logf("cannot start: %v", err)
			r.setWaiting(ctx, "CreateContainerConfigError", err.Error())
		}
		return
	}
	defer closeMD()
	backoff := r.s.o.BackOff
	restarts := int32(0)
	for ctx.Err() == nil {
		started := time.Now()
		code, err := r.runOnce(ctx, e, restarts)
		if ctx.Err() != nil {
			return
		}
		finished := time.Now()
		if err != nil {
			r.logf("start failed: %v", err)
			code = 128
		}
		if finished.Sub(started) > 10*time.Minute {
			backoff = r.s.o.BackOff // a kubelet forgets the back-off after 10 minutes of running
		}
		restarts++
		r.logf("container %s exited with code %d after %s; restart %d in %s", r.container.Name, code, finished.Sub(started).Round(time.Millisecond), restarts, backoff)
		r.terminated(ctx, code, started, finished, restarts, backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, r.s.o.MaxBackOff)
	}
}

// prepare makes the pod's folder, token, kubeconfig, port forward, log
// files and metadata server, and the command line.
func (r *podRun) prepare(ctx context.Context) (*env, func(), error) {
	pod, c := r.pod, r.container
	home := filepath.Join(r.dir, "home")
	for _, d := range []string{home, filepath.Join(r.dir, "volumes"), filepath.Join(r.dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil {
			if err := os.MkdirAll(filepath.Join(r.dir, "volumes", v.Name), 0o755); err != nil {
				return nil, nil, err
			}
		}
	}
	ksa := pod.Spec.ServiceAccountName
	if ksa == "" {
		ksa = "default"
	}
	exp := int64(24 * 3600)
	tr, err := r.s.h.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, ksa, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp,
			BoundObjectRef: &authnv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("token for service account %s/%s: %w", pod.Namespace, ksa, err)
	}
	kubeconfig := filepath.Join(r.dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, r.s.h.Config.Host, r.s.h.Config.TLSClientConfig.CAData, tr.Status.Token); err != nil {
		return nil, nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	servePort := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // the adapter binds it
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(servePort))
	for _, p := range c.Ports {
		if err := r.s.h.ForwardPodPort(ctx, pod.Namespace, pod.Name, p.ContainerPort, target); err != nil {
			return nil, nil, fmt.Errorf("port forward: %w", err)
		}
	}
	if err := r.s.h.PodLogFiles(ctx, pod.Namespace, pod.Name, c.Name, r.logPath(false), r.logPath(true)); err != nil {
		return nil, nil, fmt.Errorf("pod logs: %w", err)
	}

	mdLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	client := r.s.h.Client
	md := &http.Server{Handler: r.s.o.Metadata.Handler(metadataserver.Pod{
		Namespace: pod.Namespace, ServiceAccount: ksa, Node: pod.Spec.NodeName,
		GSA: func(ctx context.Context) (string, error) {
			sa, err := client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, ksa, metav1.GetOptions{})
			if err != nil {
				return "", err
			}
			return sa.Annotations[metadataserver.GSAAnnotation], nil
		},
		NodeHasMetadataServer: func(ctx context.Context) (bool, error) {
			n, err := client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return n.Labels[metadataserver.MetadataServerLabel] == "true", nil
		},
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = md.Serve(mdLn) }()
	closeMD := func() { _ = md.Close() }

	vars := containerEnv(pod, c)
	argv := expand(append(append([]string{}, c.Command...), c.Args...), vars)
	if len(c.Command) == 0 {
		argv = append([]string{"/adapter"}, argv...) // the image's entrypoint
	}
	argv = mapVolumes(argv, pod, c, filepath.Join(r.dir, "volumes"))
	argv = append(argv[1:],
		// What the pod's environment on GKE gives it, in the twin's terms:
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(servePort),
		"--lister-kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--stackdriver-endpoint="+r.s.o.MonitoringURL)
	envList := []string{"HOME=" + home, "PATH=/usr/bin:/bin", "GCE_METADATA_HOST=" + mdLn.Addr().String()}
	for _, k := range sortedKeys(vars) {
		envList = append(envList, k+"="+vars[k])
	}
	return &env{argv: argv, vars: envList, servePort: servePort}, closeMD, nil
}

func (r *podRun) logPath(previous bool) string {
	if previous {
		return filepath.Join(r.dir, "logs", "previous.log")
	}
	return filepath.Join(r.dir, "logs", "current.log")
}

func writeKubeconfig(path, server string, ca []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["twin"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["pod"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["pod"] = &clientcmdapi.Context{Cluster: "twin", AuthInfo: "pod"}
	cfg.CurrentContext = "pod"
	return clientcmd.WriteToFile(*cfg, path)
}

// runOnce runs the container once and returns its exit code.
func (r *podRun) runOnce(ctx context.Context, e *env, restarts int32) (int, error) {
	// The previous run's log becomes the --previous log.
	if restarts > 0 {
		_ = os.Rename(r.logPath(false), r.logPath(true))
	}
	logf, err := os.OpenFile(r.logPath(false), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	lw := &criWriter{f: logf}
	cmd := exec.Command(r.s.o.Binary, e.argv...)
	cmd.Dir = r.dir
	cmd.Env = e.vars
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
	var copying sync.WaitGroup
	copying.Add(2)
	go func() { defer copying.Done(); lw.copy("stdout", stdout) }()
	go func() { defer copying.Done(); lw.copy("stderr", stderr) }()
	exited := make(chan struct{})
	pctx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan struct{})
	go func() { defer close(probeDone); r.probe(pctx, e.servePort, time.Now(), restarts) }()
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		case <-exited:
		}
	}()
	copying.Wait()
	err = cmd.Wait()
	close(exited)
	stopProbe()
	<-probeDone
	r.mu.Lock()
	r.cmd = nil
	r.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// criWriter writes lines in the CRI log format kwok serves.
type criWriter struct {
	mu sync.Mutex
	f  *os.File
}

func (w *criWriter) copy(stream string, rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		w.mu.Lock()
		fmt.Fprintf(w.f, "%s %s F %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, sc.Text())
		w.mu.Unlock()
	}
}

// probe runs the rendered readinessProbe (httpGet) against the container
// and keeps the pod's Ready condition in step; without a probe the
// container is ready once it runs.
func (r *podRun) probe(ctx context.Context, port int, started time.Time, restarts int32) {
	r.running(ctx, started, restarts, false)
	p := r.container.ReadinessProbe
	if p == nil || p.HTTPGet == nil {
		r.running(ctx, started, restarts, true)
		return
	}
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	failures := max(p.FailureThreshold, 1)
	successes := max(p.SuccessThreshold, 1)
	scheme := "http"
	if p.HTTPGet.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, port, p.HTTPGet.Path)
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // as a kubelet: no verification
	defer client.CloseIdleConnections()
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
	}
	ready := false
	var ok, bad int32
	for {
		resp, err := client.Get(url)
		good := err == nil && resp.StatusCode >= 200 && resp.StatusCode < 400
		if resp != nil {
			resp.Body.Close()
		}
		if good {
			ok, bad = ok+1, 0
		} else {
			ok, bad = 0, bad+1
		}
		if !ready && ok >= successes || ready && bad >= failures {
			ready = !ready
			r.running(ctx, started, restarts, ready)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
	}
}
