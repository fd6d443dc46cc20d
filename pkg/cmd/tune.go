package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tune"
)

const tuneExample = `  # Find the knee of one pod of the vLLM Deployment and print the HPA targets
  kubectl infer-hpa tune -n default

  # Stay within an SLO, short steps, then apply the recommendation with setup
  kubectl infer-hpa tune vllm-gemma-deployment --slo ttft-p90=2s,itl-p90=100ms --stage-duration 30s --apply`

// TuneOptions are the options of `kubectl infer-hpa tune`.
type TuneOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Deployment     string
	Pod            string
	Port           int32
	MetricsPath    string
	SLOFlag        string
	Start          int
	MaxConcurrency int
	StageDuration  time.Duration
	MaxDuration    time.Duration
	PromptTokens   string
	OutputTokens   string
	Model          string
	Chat           bool
	Apply          bool
	Timeout        time.Duration

	namespace string
	slo       []tune.Bound
	workload  load.Workload
}

// NewCmdTune returns the tune command.
func NewCmdTune(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &TuneOptions{configFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "tune [DEPLOYMENT]",
		Short: "Measure one vLLM pod's knee and recommend the HPA's targets and behavior from it",
		Long: `Sweep the concurrency against ONE ready pod of the vLLM Deployment (a
port-forward to the pod, not the Service), doubling it step by step, and
sample the pod's own /metrics (through the apiserver's pod proxy) in each
step: vllm:num_requests_running, vllm:num_requests_waiting, the KV cache
usage and preemptions.

The sweep stops at the first step past the limits, then bisects between the
last good and the first bad concurrency:
  - an --slo bound is broken (ttft-p90=2s, itl-p90=100ms, e2e-p90=30s), or
  - the pod is saturated: raising the concurrency by a factor r raised the
    output tokens/s by less than 25% of (r-1) while the median end-to-end
    latency rose by more than 50% of (r-1) (the extra clients only queue), or
  - more than 5% of the requests failed,
and always within --max-duration.

It recommends, per metric, the value the pod reported at the last good step
less 10% (the HPA acts only beyond its 10% tolerance), and the scaling
behavior from the pod's measured start-to-Ready time; prints the evidence,
the setup command line and the HPA diff against the live one. --apply runs
that setup; without it nothing in the cluster is changed.`,
		Example: tuneExample,
		Args:    cobra.MaximumNArgs(1),
		RunE:    runVerb(o, 0),
	}
	f := cmd.Flags()
	f.StringVar(&o.Pod, "pod", "", "the pod to measure (default: the first ready pod of the Deployment)")
	f.Int32Var(&o.Port, "port", 0, "vLLM's port in the pod (default: the Deployment's --port, else 8000)")
	f.StringVar(&o.MetricsPath, "metrics-path", "/metrics", "vLLM's metrics path")
	f.StringVar(&o.SLOFlag, "slo", "", "latency bounds, e.g. ttft-p90=2s,itl-p90=100ms,e2e-p90=30s (default: stop at saturation only)")
	f.IntVar(&o.Start, "start", 1, "first concurrency of the sweep")
	f.IntVar(&o.MaxConcurrency, "max-concurrency", 512, "highest concurrency of the sweep")
	f.DurationVar(&o.StageDuration, "stage-duration", time.Minute, "length of each step")
	f.DurationVar(&o.MaxDuration, "max-duration", 15*time.Minute, "bound of the whole sweep")
	f.StringVar(&o.PromptTokens, "prompt-tokens", "128", "prompt length in tokens: N, MIN-MAX or MEAN±SD")
	f.StringVar(&o.OutputTokens, "output-tokens", "128", "output length in tokens: N, MIN-MAX or MEAN±SD")
	f.StringVar(&o.Model, "model", "", "model to request (default: the first one /v1/models lists)")
	f.BoolVar(&o.Chat, "chat", false, "use /v1/chat/completions")
	f.BoolVar(&o.Apply, "apply", false, "run setup with the recommended targets and behavior (default: only print them)")
	f.DurationVar(&o.Timeout, "request-timeout", 5*time.Minute, "give up on one request after this long")
	return cmd
}

// Complete reads the arguments and namespace.
func (o *TuneOptions) Complete(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Deployment = args[0]
	}
	o.namespace = namespaceOf(o.configFlags)
	return nil
}

// Validate checks every flag before the cluster is contacted.
func (o *TuneOptions) Validate() error {
	switch {
	case o.Start < 1:
		return fmt.Errorf("--start must be at least 1 (got %d)", o.Start)
	case o.MaxConcurrency < o.Start:
		return fmt.Errorf("--max-concurrency %d is below --start %d", o.MaxConcurrency, o.Start)
	case o.StageDuration < time.Second:
		return fmt.Errorf("--stage-duration must be at least 1s (got %s)", o.StageDuration)
	case o.MaxDuration < o.StageDuration:
		return fmt.Errorf("--max-duration %s is shorter than one step (--stage-duration %s)", o.MaxDuration, o.StageDuration)
	case o.Timeout <= 0:
		return fmt.Errorf("--request-timeout must be positive (got %s)", o.Timeout)
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("--port %d is not a port number", o.Port)
	}
	if o.SLOFlag != "" {
		slo, err := tune.ParseSLO(o.SLOFlag)
		if err != nil {
			return err
		}
		o.slo = slo
	}
	pt, err := load.ParseLengths("--prompt-tokens", o.PromptTokens)
	if err != nil {
		return err
	}
	ot, err := load.ParseLengths("--output-tokens", o.OutputTokens)
	if err != nil {
		return err
	}
	o.workload = load.Workload{PromptTokens: pt, OutputTokens: ot}
	return nil
}

// Run sweeps, recommends and prints (and with --apply, runs setup).
func (o *TuneOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	klog.SetLogger(logr.Discard())
	defer klog.ClearLogger()

	cfg, kube, err := kubeClients(ctx, o.configFlags)
	if err != nil {
		return err
	}
	dep, err := discover.FindDeploymentFor(ctx, kube, o.namespace, o.Deployment, "tune")
	if err != nil {
		return err
	}
	info := discover.Inspect(dep)
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil {
		return fmt.Errorf("deployment %s/%s: its selector: %v: give tune the pod to measure with --pod", dep.Namespace, dep.Name, err)
	}
	port := info.Port
	if o.Port != 0 {
		port = o.Port
	}
	pod, err := o.pickPod(ctx, kube, dep.Name, sel)
	if err != nil {
		return err
	}
	scrape := func(ctx context.Context) (map[string]float64, error) {
		b, err := kube.CoreV1().Pods(o.namespace).ProxyGet("http", pod.Name, strconv.Itoa(int(port)), o.MetricsPath, nil).DoRaw(ctx)
		if err != nil {
			return nil, err
		}
		return tune.ParseMetrics(b)
	}
	m, err := scrape(ctx)
	if err != nil {
		return fmt.Errorf("reading pod %s's metrics through the pod proxy (port %d, %s): %v: check --port and --metrics-path", pod.Name, port, o.MetricsPath, err)
	}
	if _, ok := m[tune.MetricRunning]; !ok {
		return fmt.Errorf("pod %s's %s on port %d has no %s: is it a vLLM server? check --port and --metrics-path", pod.Name, o.MetricsPath, port, tune.MetricRunning)
	}
	fwd, err := load.ForwardPod(ctx, cfg, kube, o.namespace, pod.Name, port)
	if err != nil {
		return err
	}
	defer fwd.Close()
	hc := load.NewHTTPClient(o.MaxConcurrency)
	defer hc.CloseIdleConnections()
	target := load.URLTarget{E: load.Endpoint{Base: fwd.Base(), Name: pod.Name}}
	model, err := checkModel(ctx, hc, target, o.Model)
	if err != nil {
		return err
	}
	client := &load.Client{HTTP: hc, Model: model, Chat: o.Chat, Timeout: o.Timeout}
	replicas := int32(0)
	if dep.Spec.Replicas != nil {
		replicas = *dep.Spec.Replicas
	}
	fmt.Fprintf(o.ErrOut, "tune: pod %s/%s (deployment %s), model %s, %s prompt / %s output tokens, steps of %s from concurrency %d\n",
		o.namespace, pod.Name, dep.Name, model, o.workload.PromptTokens, o.workload.OutputTokens, o.StageDuration, o.Start)
	warned := false
	res := tune.Sweep(ctx, tune.Options{
		Start: o.Start, Max: o.MaxConcurrency, StageDuration: o.StageDuration, MaxDuration: o.MaxDuration, SLO: o.slo,
		Scrape: scrape,
		RunStage: func(ctx context.Context, c int, d time.Duration) load.StageReport {
			rep := load.Run(ctx, load.Options{Stages: []load.Stage{{Concurrency: c, Duration: d}}, Workload: &o.workload,
				Client: client, Target: target, Grace: max(d/4, 5*time.Second)})
			if len(rep.Stages) == 0 {
				return load.StageReport{}
			}
			return rep.Stages[0]
		},
		Progress: func(s tune.Step) {
			verdict := "ok"
			if len(s.Bad) > 0 {
				verdict = strings.Join(s.Bad, ", ")
			}
			fmt.Fprintf(o.ErrOut, "  concurrency %d: %.0f tok/s, e2e p50 %s, ttft p90 %s, running %.1f, waiting %.1f: %s\n", s.Concurrency,
				s.Report.TokenRate, load.Short(s.Report.E2E.P50), load.Short(s.Report.TTFT.P90), s.Gauges.Running, s.Gauges.Waiting, verdict)
			if d, err := kube.AppsV1().Deployments(o.namespace).Get(ctx, dep.Name, metav1.GetOptions{}); err == nil && d.Spec.Replicas != nil &&
				*d.Spec.Replicas != replicas && !warned {
				warned = true
				fmt.Fprintf(o.ErrOut, "warning: deployment %s was scaled from %d to %d replicas during the sweep (its HPA?): the numbers are per pod and stay valid\n",
					dep.Name, replicas, *d.Spec.Replicas)
			}
		},
	})
	if err := tune.WriteEvidence(o.Out, res); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "sweep ended: %s\n", res.Reason)
	rec, err := tune.Recommend(res, startToReady(pod))
	if err != nil {
		return err
	}
	for _, n := range rec.Notes {
		fmt.Fprintln(o.Out, "  "+n)
	}
	setupArgs := o.setupArgs(ctx, kube, dep.Name, rec)
	fmt.Fprintf(o.Out, "recommended:\n  kubectl infer-hpa setup %s\n", strings.Join(setupArgs, " "))
	if res.Interrupted {
		return &ExitError{Code: 130, Err: errors.New("interrupted: the recommendation above rests on the steps measured so far")}
	}
	if err := o.hpaDiff(ctx, withoutNamespace(setupArgs)); err != nil {
		fmt.Fprintf(o.ErrOut, "warning: cannot show the HPA diff: %v\n", err)
	}
	if !o.Apply {
		return nil
	}
	setup := NewCmdSetup(o.IOStreams, o.configFlags)
	setup.SetArgs(withoutNamespace(setupArgs))
	setup.SilenceErrors, setup.SilenceUsage = true, true
	return setup.ExecuteContext(ctx)
}

// pickPod returns --pod, or the first Ready pod of the Deployment by name.
func (o *TuneOptions) pickPod(ctx context.Context, kube kubernetes.Interface, dep string, sel labels.Selector) (*corev1.Pod, error) {
	if o.Pod != "" {
		p, err := kube.CoreV1().Pods(o.namespace).Get(ctx, o.Pod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("pod %q not found in namespace %q: check --pod", o.Pod, o.namespace)
		}
		if err != nil {
			return nil, err
		}
		if !load.PodReady(p) {
			return nil, fmt.Errorf("pod %s is not Ready: tune measures a pod that serves; wait for it, or leave --pod out", o.Pod)
		}
		return p, nil
	}
	list, err := kube.CoreV1().Pods(o.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for i := range list.Items {
		if load.PodReady(&list.Items[i]) {
			return &list.Items[i], nil
		}
	}
	return nil, fmt.Errorf("deployment %s/%s has no ready pod to measure: wait until one is Ready (kubectl get pods -n %s -l '%s')",
		o.namespace, dep, o.namespace, sel)
}

// startToReady is how long the pod took from its start to Ready (the
// model load); 0 when unknown.
func startToReady(p *corev1.Pod) time.Duration {
	if p.Status.StartTime == nil {
		return 0
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			if d := c.LastTransitionTime.Sub(p.Status.StartTime.Time); d > 0 {
				return d
			}
		}
	}
	return 0
}

// setupArgs are the recommended setup's arguments; they keep the live
// HPA's min and max replicas. -n is the shared flag's own value.
func (o *TuneOptions) setupArgs(ctx context.Context, kube kubernetes.Interface, dep string, rec *tune.Recommendation) []string {
	args := append([]string{dep, "-n", o.namespace}, rec.MetricArgs(false)...)
	args = append(args, "--behavior", rec.Behavior)
	if h, err := kube.AutoscalingV2().HorizontalPodAutoscalers(o.namespace).Get(ctx, dep, metav1.GetOptions{}); err == nil {
		if h.Spec.MinReplicas != nil {
			args = append(args, "--min", strconv.Itoa(int(*h.Spec.MinReplicas)))
		}
		args = append(args, "--max", strconv.Itoa(int(h.Spec.MaxReplicas)))
	}
	return args
}

// hpaDiff prints what the recommended setup would change in the HPA, as
// diff does (a server-side dry run; nothing persists).
func (o *TuneOptions) hpaDiff(ctx context.Context, args []string) error {
	d := &DiffOptions{planFlags: newPlanFlags(o.configFlags), IOStreams: o.IOStreams}
	c := &cobra.Command{}
	d.manifest.AddFlags(c.Flags())
	if err := c.Flags().Parse(args); err != nil {
		return err
	}
	if err := d.complete(c, c.Flags().Args()); err != nil {
		return err
	}
	diffs, err := d.diff(ctx)
	if err != nil {
		return err
	}
	shown := false
	for _, x := range diffs {
		if strings.HasPrefix(x.Ref, "horizontalpodautoscaler.") {
			fmt.Fprintf(o.Out, "HPA diff against the live one (setup would change):\n%s", x.Unified)
			shown = true
		}
	}
	if !shown {
		fmt.Fprintln(o.Out, "HPA diff: the live HPA already has these targets and behavior")
	}
	return nil
}

// withoutNamespace drops "-n NS" for an in-process run: the namespace is a
// flag of the root command, already set on the shared config flags.
func withoutNamespace(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-n" && i+1 < len(args) {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
