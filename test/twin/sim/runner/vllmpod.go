package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/vllm"
)

// vllmPod is the simulator of one vLLM pod.
type vllmPod struct {
	uid      types.UID
	srv      *vllm.Server
	stopOnce sync.Once
	quit     chan struct{}
	wg       sync.WaitGroup
}

func (p *vllmPod) stop() {
	p.stopOnce.Do(func() {
		close(p.quit)
		p.wg.Wait()
		_ = p.srv.Close()
	})
}

// startVLLM runs a server for the pod's vLLM container, maps the
// container's ports (and --port) to it and writes vLLM's start-up lines.
func (r *Runner) startVLLM(ctx context.Context, pod *corev1.Pod) error {
	c := &pod.Spec.Containers[vllmContainer(pod)]
	args := parseArgs(c)
	m := args.model(r.o.Model)
	srv, err := vllm.Start(m, "127.0.0.1:0")
	if err != nil {
		return err
	}
	p := &vllmPod{uid: pod.UID, srv: srv, quit: make(chan struct{})}
	ports := []int32{args.Port}
	for _, cp := range c.Ports {
		if !slices.Contains(ports, cp.ContainerPort) {
			ports = append(ports, cp.ContainerPort)
		}
	}
	for _, port := range ports {
		if err := r.h.ForwardPodPort(ctx, pod.Namespace, pod.Name, port, srv.Addr()); err != nil {
			_ = srv.Close()
			return fmt.Errorf("forward port %d: %w", port, err)
		}
	}
	logPath, err := r.h.PodLogFile(ctx, pod.Namespace, pod.Name, c.Name)
	if err != nil {
		_ = srv.Close()
		return err
	}
	key := pod.Namespace + "/" + pod.Name
	r.mu.Lock()
	r.vllms[key] = p
	r.mu.Unlock()
	r.logf("vLLM server for pod %s (model %s, max_num_seqs %d) on %s, pod ports %v", key, m.Name, m.MaxNumSeqs, srv.Addr(), ports)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		r.writeLog(p, logPath, args, m)
	}()
	return nil
}

// vllmLine formats a line like vLLM's logger.
func vllmLine(source, msg string) string {
	return fmt.Sprintf("INFO %s [%s] %s", time.Now().Format("01-02 15:04:05"), source, msg)
}

// writeLog writes start-up lines spread over the model-load delay, then a
// throughput line every StatsLogInterval while the server is busy.
func (r *Runner) writeLog(p *vllmPod, path string, args serverArgs, m vllm.Model) {
	appendLog := func(lines ...string) { _ = r.h.AppendLog(path, lines...) }
	wait := func(d time.Duration) bool {
		select {
		case <-p.quit:
			return false
		case <-time.After(d):
			return true
		}
	}
	nonDefault := fmt.Sprintf("{'model': '%s', 'port': %d", m.Name, args.Port)
	if args.MaxNumSeqs > 0 {
		nonDefault += fmt.Sprintf(", 'max_num_seqs': %d", args.MaxNumSeqs)
	}
	appendLog(
		vllmLine("__init__.py:241", "Automatically detected platform cuda."),
		vllmLine("api_server.py:1805", "vLLM API server version 0.10.1.1 (simulated by the twin)"),
		vllmLine("utils.py:326", "non-default args: "+nonDefault+"}"),
		vllmLine("config.py:1604", fmt.Sprintf("Using max model len %d", m.MaxModelLen)),
		vllmLine("gpu_model_runner.py:1953", "Starting to load model "+m.Name+"..."),
	)
	load := r.o.ModelLoadDelay
	if !wait(load / 2) {
		return
	}
	appendLog(
		vllmLine("default_loader.py:262", fmt.Sprintf("Loading weights took %.2f seconds", (load/3).Seconds())),
		vllmLine("kv_cache_utils.py:829", fmt.Sprintf("GPU KV cache size: %s tokens", thousands(m.KVCacheTokens))),
		vllmLine("kv_cache_utils.py:833", fmt.Sprintf("Maximum concurrency for %s tokens per request: %.2fx",
			thousands(m.MaxModelLen), float64(m.KVCacheTokens)/float64(m.MaxModelLen))),
	)
	if !wait(load - load/2 - 50*time.Millisecond) {
		return
	}
	appendLog(
		vllmLine("api_server.py:1880", fmt.Sprintf("Starting vLLM API server 0 on http://0.0.0.0:%d", args.Port)),
		"INFO:     Started server process [1]",
		"INFO:     Waiting for application startup.",
		"INFO:     Application startup complete.",
	)
	last := p.srv.Stats()
	every := r.o.StatsLogInterval
	for wait(every) {
		s := p.srv.Stats()
		if s.Running+s.Waiting == 0 && s.PromptTokens == last.PromptTokens && s.GenerationTokens == last.GenerationTokens {
			continue // vLLM logs only while there is work
		}
		appendLog(vllmLine("loggers.py:123", fmt.Sprintf(
			"Engine 000: Avg prompt throughput: %.1f tokens/s, Avg generation throughput: %.1f tokens/s, Running: %d reqs, Waiting: %d reqs, GPU KV cache usage: %.1f%%, Prefix cache hit rate: 0.0%%",
			float64(s.PromptTokens-last.PromptTokens)/every.Seconds(), float64(s.GenerationTokens-last.GenerationTokens)/every.Seconds(),
			s.Running, s.Waiting, 100*s.KVCacheUsage)))
		last = s
	}
}

// thousands renders 262144 as 262,144.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
