package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
)

const loadExample = `  # 8 concurrent streaming clients for 2 minutes against the vLLM Deployment
  kubectl infer-hpa load -n default --concurrency 8 --duration 2m

  # Ramp through the Service, then pause so the scale-down can be watched
  # (run 'kubectl infer-hpa watch' in another terminal)
  kubectl infer-hpa load svc/vllm-service --stages 2x1m,8x2m,16x2m,0x1m

  # Open loop: 5 requests/s (Poisson arrivals), 1000 requests, chat API
  kubectl infer-hpa load --rate 5 --requests 1000 --chat

  # A server you already reach, prompts from a file, JSON for scripts
  kubectl infer-hpa load --url http://127.0.0.1:8000 --prompts prompts.jsonl --duration 1m -o json`

// LoadOptions are the options of `kubectl infer-hpa load`.
type LoadOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Target       string
	URL          string
	Port         int32
	Model        string
	Chat         bool
	Concurrency  int
	Rate         float64
	StagesFlag   string
	Duration     time.Duration
	Requests     int
	PromptTokens string
	OutputTokens string
	PromptsFile  string
	Timeout      time.Duration
	MaxInFlight  int
	Output       string
	Plain        bool
	Seed         uint64

	namespace string
	stages    []load.Stage
	workload  load.Workload
	terminal  bool
	given     func(string) bool
}

// NewCmdLoad returns the load command.
func NewCmdLoad(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &LoadOptions{configFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "load [SERVICE|DEPLOYMENT]",
		Short: "Drive streaming OpenAI requests at the vLLM server and measure TTFT, inter-token and end-to-end latency",
		Long: `Send OpenAI-compatible streaming requests (/v1/completions, or /v1/chat/completions
with --chat) to the vLLM server and measure, per stage: requests, errors by
kind, throughput (requests/s, output tokens/s), time to first token,
inter-token latency and end-to-end latency (p50/p90/p99).

The target is a Service (its ready endpoints) or a Deployment (its Ready
pods) in the namespace, reached through a port-forward to every ready pod
(as kubectl port-forward makes it) and spread round robin; pods that become
Ready during the run join it. With no name, the only vLLM Deployment of the
namespace. --url targets a server you already reach. The model is the one
/v1/models lists (--model picks one of several).

Every run ends by itself: --duration, --requests, or the sum of --stages.
Ctrl-C stops at once and still prints what was measured.`,
		Example: loadExample,
		Args:    cobra.MaximumNArgs(1),
		RunE:    runVerb(o, 0),
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "base URL of an OpenAI-compatible server you reach already (instead of a port-forward), e.g. http://127.0.0.1:8000")
	f.Int32Var(&o.Port, "port", 0, "the Service port, or the pods' vLLM port (default: the Service's first port, or vLLM's --port)")
	f.StringVar(&o.Model, "model", "", "model to request (default: the first one /v1/models lists)")
	f.BoolVar(&o.Chat, "chat", false, "use /v1/chat/completions instead of /v1/completions")
	f.IntVar(&o.Concurrency, "concurrency", 1, "closed loop: this many clients, each sending its next request when the previous ends")
	f.Float64Var(&o.Rate, "rate", 0, "open loop: this many requests per second on average (Poisson arrivals), instead of --concurrency")
	f.StringVar(&o.StagesFlag, "stages", "", "a ramp of CONCURRENCYxDURATION steps, e.g. 2x1m,8x2m,16x2m,0x1m (0 pauses)")
	f.DurationVar(&o.Duration, "duration", 0, "how long to run (with --concurrency or --rate)")
	f.IntVar(&o.Requests, "requests", 0, "stop after this many requests")
	f.StringVar(&o.PromptTokens, "prompt-tokens", "128", "prompt length in tokens: N, MIN-MAX (uniform) or MEAN±SD (normal)")
	f.StringVar(&o.OutputTokens, "output-tokens", "128", "output length in tokens (max_tokens, with ignore_eos): N, MIN-MAX or MEAN±SD")
	f.StringVar(&o.PromptsFile, "prompts", "", `JSONL file of prompts, one {"prompt": "..."} or {"messages": [...]} per line, optional "max_tokens"`)
	f.DurationVar(&o.Timeout, "request-timeout", 5*time.Minute, "give up on one request after this long")
	f.IntVar(&o.MaxInFlight, "max-in-flight", 1000, "with --rate: at most this many requests in flight (arrivals beyond it are counted as dropped)")
	f.StringVarP(&o.Output, "output", "o", "", "print the summary as json")
	f.BoolVar(&o.Plain, "plain", false, "print a progress line every 10s instead of a refreshing line (default when stderr is not a terminal)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the synthetic prompts and arrivals")
	return cmd
}

// Complete parses what the flags say; it reads files but not the cluster.
func (o *LoadOptions) Complete(c *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Target = args[0]
	}
	o.given = givenFlags(c)
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil && o.URL == "" {
		return err
	}
	o.namespace = ns
	o.terminal = isTerminal(o.ErrOut) && !o.Plain
	return nil
}

// Validate checks every flag before anything is sent.
func (o *LoadOptions) Validate() error {
	switch {
	case o.Output != "" && o.Output != "json":
		return fmt.Errorf("--output %q is not supported: use -o json, or leave it out for a table", o.Output)
	case o.URL != "" && o.Target != "":
		return fmt.Errorf("give either a target (%s) or --url, not both", o.Target)
	case o.Concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1 (got %d); use --stages with a 0 step to pause", o.Concurrency)
	case o.Rate < 0 || o.Rate != o.Rate:
		return fmt.Errorf("--rate must be a positive number of requests per second (got %v)", o.Rate)
	case o.given("rate") && o.Rate == 0:
		return errors.New("--rate must be a positive number of requests per second (got 0); leave it out for a closed loop")
	case o.Rate > 0 && o.given("concurrency"):
		return errors.New("--rate (open loop) and --concurrency (closed loop) exclude each other: pick one")
	case o.StagesFlag != "" && (o.Rate > 0 || o.given("concurrency") || o.given("duration")):
		return errors.New("--stages sets concurrency and duration per step: leave out --concurrency, --rate and --duration")
	case o.Duration < 0:
		return fmt.Errorf("--duration must be positive (got %s)", o.Duration)
	case o.Requests < 0:
		return fmt.Errorf("--requests must be positive (got %d)", o.Requests)
	case o.Timeout <= 0:
		return fmt.Errorf("--request-timeout must be positive (got %s)", o.Timeout)
	case o.MaxInFlight < 1:
		return fmt.Errorf("--max-in-flight must be at least 1 (got %d)", o.MaxInFlight)
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("--port %d is not a port number", o.Port)
	}
	if o.URL != "" {
		base, err := load.ParseURL(o.URL)
		if err != nil {
			return err
		}
		o.URL = base
	}
	switch {
	case o.StagesFlag != "":
		st, err := load.ParseStages(o.StagesFlag)
		if err != nil {
			return err
		}
		o.stages = st
	case o.Duration == 0 && o.Requests == 0:
		return errors.New("the run needs an end: give --duration, --requests (or both), or --stages")
	default:
		d := o.Duration
		if d == 0 {
			d = 100 * 365 * 24 * time.Hour // bounded by --requests
		}
		o.stages = []load.Stage{{Concurrency: o.Concurrency, Rate: o.Rate, Duration: d}}
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
	if o.PromptsFile != "" {
		f, err := os.Open(o.PromptsFile)
		if err != nil {
			return fmt.Errorf("--prompts: %v", err)
		}
		defer f.Close()
		if o.workload.Prompts, err = load.ReadPrompts(o.PromptsFile, f); err != nil {
			return err
		}
		if !o.given("output-tokens") {
			o.workload.OutputTokens = load.Lengths{}
		}
	}
	return nil
}

// Run resolves the target, checks the model and drives the stages.
func (o *LoadOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	// client-go's port-forward logs connection errors through klog; they
	// are counted as request errors instead of written over the progress.
	klog.SetLogger(logr.Discard())
	defer klog.ClearLogger()

	maxConns := o.Concurrency
	for _, s := range o.stages {
		maxConns = max(maxConns, s.Concurrency)
	}
	if o.Rate > 0 {
		maxConns = o.MaxInFlight
	}
	hc := load.NewHTTPClient(maxConns)
	defer hc.CloseIdleConnections()
	tgt, where, closeTarget, err := openTarget(ctx, o.configFlags, o.namespace, o.Target, o.URL, o.Port, o.ErrOut)
	if err != nil {
		return err
	}
	defer closeTarget()
	model, err := checkModel(ctx, hc, tgt, o.Model)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "load: %s, model %s, %s, %s prompt / %s output tokens, stages %s\n", where, model,
		(&load.Client{Chat: o.Chat}).Path(), o.workload.PromptTokens, o.workload.OutputTokens, describeStages(o.stages, o.Requests))
	pp := &load.ProgressPrinter{W: o.ErrOut, Terminal: o.terminal}
	rep := load.Run(ctx, load.Options{
		Stages: o.stages, MaxRequests: o.Requests, Workload: &o.workload,
		Client: &load.Client{HTTP: hc, Model: model, Chat: o.Chat, Timeout: o.Timeout},
		Target: tgt, MaxInFlight: o.MaxInFlight, Seed: o.Seed, Tick: pp.Tick,
	})
	pp.Done()
	rep.Target, rep.Model = where, model
	if o.Output == "json" {
		err = rep.WriteJSON(o.Out)
	} else {
		err = rep.WriteTable(o.Out)
	}
	if err != nil {
		return err
	}
	if rep.Interrupted {
		return &ExitError{Code: 130}
	}
	return nil
}

func describeStages(stages []load.Stage, requests int) string {
	var s string
	if len(stages) == 1 && stages[0].Duration > 50*365*24*time.Hour {
		s = stages[0].Name()
	} else {
		parts := make([]string, len(stages))
		for i, st := range stages {
			parts[i] = st.Name() + " for " + st.Duration.String()
		}
		s = strings.Join(parts, ", ")
	}
	if requests > 0 {
		s += fmt.Sprintf(", at most %d requests", requests)
	}
	return s
}

// openTarget returns --url, or port-forwards to the ready pods of the
// in-cluster target and follows them.
func openTarget(ctx context.Context, cf *genericclioptions.ConfigFlags, namespace, name, url string, port int32, warn io.Writer) (load.Target, string, func(), error) {
	if url != "" {
		return load.URLTarget{E: load.Endpoint{Base: url, Name: url}}, url, func() {}, nil
	}
	cfg, kube, err := kubeClients(ctx, cf)
	if err != nil {
		return nil, "", nil, err
	}
	res, err := load.Resolve(ctx, kube, namespace, name, port)
	if err != nil {
		return nil, "", nil, err
	}
	pt, err := load.NewPodsTarget(ctx, cfg, kube, namespace, res.Pods, res.What)
	if err != nil {
		return nil, "", nil, err
	}
	pt.Warn = func(s string) { fmt.Fprintf(warn, "\r\x1b[Kwarning: %s\n", s) }
	fctx, cancel := context.WithCancel(ctx)
	go pt.Follow(fctx, 2*time.Second)
	where := fmt.Sprintf("%s (%d ready pods via port-forward)", res.What, len(pt.Pods()))
	return pt, where, func() { cancel(); pt.Close() }, nil
}

// kubeClients builds the REST config and clientset and checks the
// cluster answers.
func kubeClients(ctx context.Context, cf *genericclioptions.ConfigFlags) (*rest.Config, kubernetes.Interface, error) {
	cfg, err := cf.ToRESTConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("no usable kubeconfig: %w: check --kubeconfig and --context, or use --url", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	if err := kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return nil, nil, fmt.Errorf("cannot reach the cluster at %s: %v: check --kubeconfig and --context, or use --url", cfg.Host, err)
	}
	return cfg, kube, nil
}

// checkModel asks one endpoint for /v1/models and picks the model.
func checkModel(ctx context.Context, hc *http.Client, tgt load.Target, want string) (string, error) {
	ep, ok := tgt.Pick()
	if !ok {
		return "", errors.New("no ready endpoint to ask for /v1/models")
	}
	ids, err := load.Models(ctx, hc, ep.Base)
	if err != nil {
		if ep.Name != ep.Base {
			return "", fmt.Errorf("pod %s: %w", ep.Name, err)
		}
		return "", err
	}
	return load.PickModel(ids, want, ep.Name)
}
