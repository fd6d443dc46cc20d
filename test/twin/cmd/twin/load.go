package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/load"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/tutorial"
)

func newLoadCmd() *cobra.Command {
	var (
		stateDir string
		target   load.Target
		opts     load.Options
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Send OpenAI requests to the ready pods behind a Service of the running twin, then print latency and throughput",
		Long: `Send OpenAI completions to the ready pods behind a Service, spread over them
as the Service would (round robin over its EndpointSlices), through the twin's
egress proxy. Closed loop at --concurrency, or --rate requests per second.
Stops after --requests or --duration (default 1m), or on Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Requests == 0 && opts.Duration == 0 {
				opts.Duration = time.Minute
			}
			s, err := readState(stateDir)
			if err != nil || !alive(s.PID) {
				return fmt.Errorf("no twin is up in %s; start one with `twin up --demo`", stateDir)
			}
			if s.EgressSocket == "" {
				return fmt.Errorf("the twin in %s records no egress socket; restart it with this twin binary", stateDir)
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
			if err != nil {
				return err
			}
			if target.Client, err = kubernetes.NewForConfig(cfg); err != nil {
				return err
			}
			target.EgressSocket = s.EgressSocket
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := load.Run(ctx, target, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&stateDir, "state-dir", defaultStateDir(), "the state dir given to `twin up`")
	fs.StringVarP(&target.Namespace, "namespace", "n", demoNamespace, "namespace of the Service")
	fs.StringVar(&target.Service, "service", tutorial.ServiceName, "the Service whose pods get the requests")
	fs.Int32Var(&target.Port, "port", 0, "the Service port (default: its first)")
	fs.IntVar(&opts.Concurrency, "concurrency", 4, "requests in flight at most (clients of the closed loop)")
	fs.Float64Var(&opts.Rate, "rate", 0, "requests per second (open loop); 0: closed loop")
	fs.IntVar(&opts.Requests, "requests", 0, "stop after this many requests")
	fs.DurationVar(&opts.Duration, "duration", 0, "stop after this long (default 1m when --requests is not set)")
	fs.StringVar(&opts.Model, "model", "", "model to ask for (default: the first of /v1/models)")
	fs.StringVar(&opts.Prompt, "prompt", "", "prompt text")
	fs.IntVar(&opts.MaxTokens, "max-tokens", 64, "max_tokens of each request")
	fs.BoolVar(&opts.Chat, "chat", false, "use /v1/chat/completions")
	fs.BoolVar(&opts.Stream, "stream", false, "stream the answers (SSE) and report the time to first token")
	return cmd
}
