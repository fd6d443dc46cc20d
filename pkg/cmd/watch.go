package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/doctor"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/tui"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

const watchExample = `  # Watch the HPA of the vLLM Deployment while a load test runs
  kubectl infer-hpa watch vllm-gemma-deployment -n default

  # In CI: print one line per change and exit 0 once 3 replicas run
  kubectl infer-hpa watch vllm-gemma-hpa --plain --until-replicas 3 --timeout 10m`

// WatchOptions are the options of `kubectl infer-hpa watch`.
type WatchOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Name             string
	Namespace        string
	Context          string
	Plain            bool
	Timeout          time.Duration
	UntilReplicas    int32
	Since            time.Duration
	AdapterNamespace string
	AdapterSelector  string
	MetricsInterval  time.Duration

	// session is the cluster, as setup, diff and cleanup reach it (Run
	// connects unless a test gave client).
	session *cluster.Session
	client  kubernetes.Interface
	// metrics is nil when the REST client could not be built.
	metrics watch.MetricsSource
}

// NewWatchOptions returns options with the defaults.
func NewWatchOptions(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *WatchOptions {
	return &WatchOptions{configFlags: flags, IOStreams: streams, UntilReplicas: -1,
		AdapterNamespace: identity.DefaultNamespace, AdapterSelector: watch.DefaultAdapterSelector, MetricsInterval: 5 * time.Second}
}

// NewCmdWatch returns the watch command.
func NewCmdWatch(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := NewWatchOptions(streams, flags)
	cmd := &cobra.Command{
		Use:   "watch [HPA|DEPLOYMENT]",
		Short: "Live dashboard of the HPA scaling, its metrics, pods, events and the adapter's log",
		Long: `Watch one HorizontalPodAutoscaler and everything around it on one screen: current
and desired replicas over time, the HPA's conditions, each metric against its
target with per-pod values from custom.metrics.k8s.io, the Deployment's pods,
Events, and the custom-metrics adapter's log with errors highlighted.

When stdout is not a terminal (or with --plain) it prints one timestamped line
per change instead.`,
		Example: watchExample,
		Args:    cobra.MaximumNArgs(1),
		RunE:    runVerb(o, 0),
	}
	f := cmd.Flags()
	f.BoolVar(&o.Plain, "plain", false, "print one line per change instead of the dashboard (default when stdout is not a terminal)")
	f.DurationVar(&o.Timeout, "timeout", 0, "exit after this long (0: run until quit); with --until-replicas, not reaching the count by then exits 1")
	f.Int32Var(&o.UntilReplicas, "until-replicas", -1, "exit 0 once the HPA's current replicas reach this count")
	f.DurationVar(&o.Since, "since", 0, "show adapter log lines newer than this (for example 10m); 0 shows the last 50 lines")
	f.StringVar(&o.AdapterNamespace, "adapter-namespace", o.AdapterNamespace, "namespace of the custom-metrics adapter whose log is tailed")
	f.StringVar(&o.AdapterSelector, "adapter-selector", o.AdapterSelector, "label selector of the adapter's pods")
	f.DurationVar(&o.MetricsInterval, "metrics-interval", o.MetricsInterval, "how often to read per-pod values from custom.metrics.k8s.io")
	return cmd
}

// Complete reads the name, the namespace and the output mode; Run
// connects.
func (o *WatchOptions) Complete(c *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	o.Namespace = namespaceOf(o.configFlags)
	if !c.Flags().Changed("plain") {
		o.Plain = !isTerminal(o.Out)
	}
	return nil
}

// connect reaches the cluster through the session code of the other verbs:
// the clients, and the kubeconfig context for the GKE names.
func (o *WatchOptions) connect(ctx context.Context) error {
	if o.client != nil {
		return nil
	}
	s, err := cluster.Connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	o.session, o.client, o.Context = s, s.Env.Kube, s.Context
	o.metrics = watch.CustomMetricsREST{Client: s.Env.Kube.Discovery().RESTClient()}
	return nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Validate checks the arguments and flags.
func (o *WatchOptions) Validate() error {
	switch {
	case o.Name == "":
		return errors.New("name the HPA or its Deployment to watch: kubectl infer-hpa watch NAME -n NAMESPACE")
	case o.Timeout < 0:
		return fmt.Errorf("--timeout must not be negative (got %s)", o.Timeout)
	case o.Since < 0:
		return fmt.Errorf("--since must not be negative (got %s)", o.Since)
	case o.UntilReplicas < -1:
		return fmt.Errorf("--until-replicas must be 0 or more (got %d)", o.UntilReplicas)
	case o.MetricsInterval < time.Second:
		return fmt.Errorf("--metrics-interval must be at least 1s (got %s)", o.MetricsInterval)
	case o.AdapterNamespace == "":
		return errors.New("--adapter-namespace must not be empty (the adapter runs in custom-metrics by default)")
	}
	return nil
}

// Run resolves the HPA and shows it until quit, --timeout or --until-replicas.
func (o *WatchOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	if err := o.connect(ctx); err != nil {
		return err
	}
	target, err := watch.Resolve(ctx, o.client, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	w := watch.New(watch.Options{
		Client: o.client, Metrics: o.metrics, Context: o.Context, Target: target,
		AdapterNamespace: o.AdapterNamespace, AdapterSelector: o.AdapterSelector,
		LogSince: o.Since, MetricsInterval: o.MetricsInterval,
	})
	// client-go logs through klog; nothing may write over the screen or
	// between the plain lines. Problems show up in the panels instead.
	klog.SetLogger(logr.Discard())
	defer klog.ClearLogger()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	goal := &watch.ReplicaGoal{N: o.UntilReplicas}
	var reached bool
	var last watch.Snapshot
	check := func(s watch.Snapshot) {
		last = s
		if o.UntilReplicas >= 0 && goal.Reached(s) {
			reached = true
			cancel()
		}
	}
	if o.Plain {
		p := &watch.PlainPrinter{W: o.Out}
		err = w.Run(ctx, func(s watch.Snapshot) {
			if perr := p.Print(s); perr != nil {
				cancel()
			}
			check(s)
		})
	} else {
		err = o.runTUI(ctx, cancel, w, check)
	}
	if err != nil {
		return err
	}
	if o.UntilReplicas >= 0 && !reached {
		cur := "unknown"
		if last.HPA != nil {
			cur = fmt.Sprint(last.HPA.CurrentReplicas)
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("stopped before the HPA reached %d replicas (current: %s)", o.UntilReplicas, cur)}
	}
	return nil
}

// runTUI runs the dashboard until the user quits or ctx ends, then stops
// the watcher and waits for it, so check is not called after runTUI returns.
func (o *WatchOptions) runTUI(ctx context.Context, cancel context.CancelFunc, w *watch.Watcher, check func(watch.Snapshot)) error {
	m := tui.New()
	m.AltScreen = true
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(o.In), tea.WithOutput(o.Out))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx, func(s watch.Snapshot) {
			p.Send(tui.SnapshotMsg{Snapshot: s})
			check(s)
		})
	}()
	doctorDone := make(chan struct{})
	go func() {
		defer close(doctorDone)
		o.doctorLoop(ctx, p)
	}()
	_, err := p.Run()
	stoppedByUs := ctx.Err() != nil
	cancel()
	<-done
	<-doctorDone
	if errors.Is(err, tea.ErrProgramKilled) && stoppedByUs {
		return nil // --timeout or --until-replicas ended it
	}
	return err
}

// doctorInterval is watch's slow tick for doctor's verdict in the header.
const doctorInterval = 30 * time.Second

// doctorLoop runs doctor's read-only checks now and on every slow tick
// and sends the verdict and table to the screen, until ctx ends.
func (o *WatchOptions) doctorLoop(ctx context.Context, p *tea.Program) {
	if o.session == nil {
		return
	}
	env := doctorEnv(ctx, o.session)
	for {
		rctx, cancel := context.WithTimeout(ctx, doctorInterval)
		rep, err := doctor.Run(rctx, env, doctor.Input{Namespace: o.Namespace, Name: o.Name, Since: 15 * time.Minute,
			AdapterNamespace: o.AdapterNamespace, AdapterImage: kustomize.DefaultAdapterImage})
		cancel()
		if ctx.Err() != nil {
			return
		}
		msg := tui.DoctorMsg{Verdict: "doctor: could not run: " + fmt.Sprint(err), Failures: 1}
		if err == nil {
			var b strings.Builder
			rep.Print(&b, false)
			msg = tui.DoctorMsg{Verdict: rep.Verdict(), Table: b.String(), Failures: rep.Count(doctor.Fail)}
		}
		p.Send(msg)
		select {
		case <-ctx.Done():
			return
		case <-time.After(doctorInterval):
		}
	}
}
