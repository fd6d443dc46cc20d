package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/doctor"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/gcp"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/printers"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/watch"
)

const doctorExample = `  # Why does my HPA not scale? Check every link of the chain
  kubectl infer-hpa doctor vllm-gemma-deployment -n default

  # The same for a script: exit 0 healthy, 1 a link is broken, 2 doctor could not run
  kubectl infer-hpa doctor vllm-gemma-hpa -n default -o json`

// DoctorOptions are the options of `kubectl infer-hpa doctor`.
type DoctorOptions struct {
	configFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	Name             string
	Namespace        string
	Since            time.Duration
	Output           string
	Project          string
	AdapterNamespace string
	Timeout          time.Duration
}

// NewCmdDoctor returns the doctor command.
func NewCmdDoctor(streams genericiooptions.IOStreams, flags *genericclioptions.ConfigFlags) *cobra.Command {
	o := &DoctorOptions{configFlags: flags, IOStreams: streams, Since: 15 * time.Minute,
		AdapterNamespace: identity.DefaultNamespace, Timeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "doctor [HPA|DEPLOYMENT]",
		Short: "Check every link of the autoscaling chain and name the broken one, with the fix (reads only)",
		Long: `Check, on the live cluster, every link of the chain in the order data flows:
the vLLM workload and its /metrics, Managed Prometheus scraping, the data in
Cloud Monitoring (read with your Application Default Credentials), the
adapter's Workload Identity and IAM grants, the adapter itself and its log,
the custom metrics APIs, and the HPA. Each check prints ok, warn, FAIL or skip
(with why); each failure has a fix line. A failure that follows from an
earlier broken link is shown as a warning naming that link.

doctor only reads: it changes nothing in the cluster or in Google Cloud.
Checks you lack the permission for are skipped, naming the permission.

Exit status: 0 no failure, 1 a failure was found, 2 doctor could not run.`,
		Example: doctorExample,
		Args:    cobra.MaximumNArgs(1),
		RunE:    runVerb(o, 2),
	}
	f := cmd.Flags()
	f.DurationVar(&o.Since, "since", o.Since, "how far back to read the adapter's log and the HPA's events")
	f.StringVarP(&o.Output, "output", "o", "", "output format: json or yaml (default: the check table)")
	f.StringVar(&o.Project, "project", "", "Google Cloud project of the cluster (default: the one setup recorded, else the nodes')")
	f.StringVar(&o.AdapterNamespace, "adapter-namespace", o.AdapterNamespace, "namespace of the custom-metrics adapter")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up on the checks after this long")
	return cmd
}

// Complete fills in the namespace.
func (o *DoctorOptions) Complete(_ *cobra.Command, args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	return nil
}

// Validate checks the flags.
func (o *DoctorOptions) Validate() error {
	switch {
	case o.Output != "" && o.Output != "json" && o.Output != "yaml":
		return fmt.Errorf("--output %q: use json or yaml (or leave it out for the table)", o.Output)
	case o.Since <= 0:
		return fmt.Errorf("--since must be positive (got %s), for example 15m", o.Since)
	case o.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive (got %s)", o.Timeout)
	case o.AdapterNamespace == "":
		return errors.New("--adapter-namespace must not be empty (the adapter runs in custom-metrics by default)")
	}
	return nil
}

// Run connects, runs the checks under a spinner and prints the report.
func (o *DoctorOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	klog.SetLogger(logr.Discard()) // client-go's warnings would break the table
	defer klog.ClearLogger()
	s, err := cluster.Connect(ctx, o.configFlags)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	return o.report(ctx, doctorEnv(ctx, s))
}

// report runs the checks on env and prints them; the error carries the
// exit code.
func (o *DoctorOptions) report(ctx context.Context, env doctor.Env) error {
	stop := func(error) {}
	if isTerminal(o.ErrOut) { // a spinner on a terminal only: scripts get the report alone
		stop = apply.NewProgress(o.ErrOut).Wait("the checks", "checked")
	}
	rep, err := doctor.Run(ctx, env, doctor.Input{
		Namespace: o.Namespace, Name: o.Name, Since: o.Since, Project: o.Project,
		AdapterNamespace: o.AdapterNamespace, AdapterImage: kustomize.DefaultAdapterImage,
	})
	stop(err)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if o.Output != "" {
		if err := printers.Print(o.Out, o.Output, rep); err != nil {
			return &ExitError{Code: 2, Err: err}
		}
	} else {
		rep.Print(o.Out, printers.ColorEnabled(o.Out))
	}
	if rep.Count(doctor.Fail) > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

// doctorEnv builds the readers: the cluster's, and Google's from the
// user's Application Default Credentials and gcloud's endpoint overrides.
// A Google client that cannot be built leaves its checks skipped, saying why.
func doctorEnv(ctx context.Context, s *cluster.Session) doctor.Env {
	env := doctor.Env{Kube: s.Env.Kube, Dynamic: s.Env.Dynamic,
		Custom: watch.CustomMetricsREST{Client: s.Env.Kube.Discovery().RESTClient()}}
	opts := gcp.OptionsFromEnv(nil)
	monEndpoint := os.Getenv(gcp.EnvMonitoringEndpoint)
	// Credentials turned off and no local endpoint: calling Google's real
	// endpoints anonymously can only fail, so those checks skip instead.
	noCreds := errors.New("credentials are disabled (" + gcp.EnvDisableCredentials + ") and no endpoint override is set")
	switch c, err := gcp.NewClient(ctx, opts); {
	case opts.Anonymous && (opts.IAMEndpoint == "" || opts.CRMEndpoint == ""):
		env.IAMErr = noCreds
	case err != nil:
		env.IAMErr = err
	default:
		c.Retry.Budget = 2 * time.Second
		env.IAM = c
	}
	switch m, err := gcp.NewMonitoring(ctx, opts, monEndpoint); {
	case opts.Anonymous && monEndpoint == "":
		env.MonitoringErr = noCreds
	case err != nil:
		env.MonitoringErr = err
	default:
		env.Monitoring = m
	}
	return env
}
