package cmd

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/printers"
)

// RenderOptions holds the state of `render`.
type RenderOptions struct {
	configFlags *genericclioptions.ConfigFlags
	manifest    *ManifestFlags

	Output    string
	ExportDir string
	library   kustomize.Options
	genericiooptions.IOStreams
}

// NewCmdRender returns the `render` command.
func NewCmdRender(streams genericiooptions.IOStreams, cf *genericclioptions.ConfigFlags) *cobra.Command {
	o := &RenderOptions{configFlags: cf, manifest: NewManifestFlags(), IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "render [DEPLOYMENT] [flags]",
		Short: "Print the manifests setup would apply, without a cluster",
		Long: `Render the whole chain - the adapter, Workload Identity annotation, PodMonitoring,
GPU recording rules and the HPA - from the embedded manifest library. Nothing is
sent to a cluster or to Google Cloud. With --path native, render GKE's
AutoscalingMetric and the HPA instead (render has no cluster, so it never
chooses the path itself: --path auto is for setup and diff).

With --export DIR, write a self-contained kustomize directory instead: the
library, a values.yaml with every parameter, and a kustomization.yaml;
'kubectl kustomize DIR' prints exactly what render prints.`,
		Example: `  # The tutorial's setup
  kubectl infer-hpa render --deployment vllm-gemma-deployment -n default \
    --pod-label app=gemma-server --metrics-port 8081 \
    --metric running=4 --min 1 --max 5 --behavior tutorial \
    --wi-mode gsa --project my-project

  # Scale on queue length and KV cache together, as JSON
  kubectl infer-hpa render vllm --metric waiting=5 --metric kv-cache=0.8 -o json

  # GKE-native path (GKE 1.37.0-gke.3100000+, or Preview 1.35.1-gke.1396000+ on Rapid; HPA performance profile):
  # an AutoscalingMetric and the HPA, no adapter and no IAM
  kubectl infer-hpa render --path native --deployment vllm --metric running=4

  # Write a kustomize directory for GitOps
  kubectl infer-hpa render --deployment vllm --export ./infer-hpa`,
		Args: cobra.MaximumNArgs(1),
		RunE: runVerb(o, 0),
	}
	o.manifest.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.Output, "output", "o", "yaml", "Output format: yaml or json")
	cmd.Flags().StringVar(&o.ExportDir, "export", "", "Write a kustomize directory to DIR instead of printing")
	return cmd
}

// Complete turns the flags into library options.
func (o *RenderOptions) Complete(_ *cobra.Command, args []string) error {
	lib, err := o.manifest.ToOptions(namespaceOf(o.configFlags))
	if err != nil {
		return err
	}
	if lib.Deployment, err = deploymentArg(lib.Deployment, args); err != nil {
		return err
	}
	lib.Complete()
	o.library = lib
	return nil
}

// Validate checks the flags before anything is rendered or written.
func (o *RenderOptions) Validate() error {
	if o.Output != "yaml" && o.Output != "json" {
		return fmt.Errorf("--output %q is not supported: use yaml or json", o.Output)
	}
	if o.ExportDir != "" {
		if entries, err := os.ReadDir(o.ExportDir); err == nil && len(entries) > 0 {
			return fmt.Errorf("--export %s is not empty: give a new or empty directory", o.ExportDir)
		}
	}
	return o.library.Validate()
}

// Run renders and prints or exports.
func (o *RenderOptions) Run(context.Context) error {
	res, err := kustomize.Render(o.library)
	if err != nil {
		return err
	}
	if o.ExportDir != "" {
		if err := res.Files.WriteTo(filesys.MakeFsOnDisk(), o.ExportDir); err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.ErrOut, "wrote %s: check it with 'kubectl kustomize %s'\n", o.ExportDir, o.ExportDir)
		return err
	}
	if o.Output == "yaml" {
		b, err := res.YAML()
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	objs, err := res.Objects()
	if err != nil {
		return err
	}
	return printers.Objects(o.Out, "json", objs)
}
