package cmd

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

const completionLong = `Generate the shell completion script of kubectl infer-hpa.

Run as a kubectl plugin ("kubectl infer-hpa ..."), completion comes from
kubectl: with kubectl 1.26 or later and kubectl's own completion enabled
(kubectl completion --help), kubectl runs kubectl_complete-infer_hpa from PATH,
which asks this plugin. The release archives ship that script; krew installs it
into its store but links only the plugin, so copy it next to the plugin:

  (cd "${KREW_ROOT:-$HOME/.krew}" &&
    cp store/infer-hpa/v*/kubectl_complete-infer_hpa bin/)

Run directly as kubectl-infer_hpa, load the script this command prints.`

const completionExample = `  # kubectl infer-hpa <TAB> (bash), after: source <(kubectl completion bash)
  command -v kubectl_complete-infer_hpa

  # kubectl-infer_hpa <TAB>, for the current bash session
  source <(kubectl infer-hpa completion bash)

  # zsh and fish
  kubectl infer-hpa completion zsh > "${fpath[1]}/_kubectl-infer_hpa"
  kubectl infer-hpa completion fish > ~/.config/fish/completions/kubectl-infer_hpa.fish`

// setupCompletion adds cobra's completion command (bash, zsh, fish,
// powershell) now rather than at Execute, so that its help can explain how
// completion reaches a kubectl plugin.
func setupCompletion(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Long = completionLong
			c.Example = completionExample
		}
	}
}

// nameLister lists the names of one kind of object in a namespace.
type nameLister func(ctx context.Context, cs kubernetes.Interface, ns string) ([]string, error)

func listDeployments(ctx context.Context, cs kubernetes.Interface, ns string) ([]string, error) {
	l, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range l.Items {
		names = append(names, d.Name)
	}
	return names, nil
}

func listHPAs(ctx context.Context, cs kubernetes.Interface, ns string) ([]string, error) {
	l, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, h := range l.Items {
		names = append(names, h.Name)
	}
	return names, nil
}

// listInventories lists the HPA names of the infer-hpa inventories (what
// cleanup takes).
func listInventories(ctx context.Context, cs kubernetes.Interface, ns string) ([]string, error) {
	l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: apply.LabelID})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, cm := range l.Items {
		if cm.Annotations[apply.AnnotationTooling] == apply.Tooling {
			names = append(names, strings.TrimPrefix(cm.Name, apply.ParentPrefix))
		}
	}
	return names, nil
}

// completeNames lists names from the cluster that start with what was typed;
// any error (no cluster, no permission) simply completes nothing.
func completeNames(ctx context.Context, cs kubernetes.Interface, ns, prefix string, listers ...nameLister) []string {
	seen := map[string]bool{}
	var out []string
	for _, list := range listers {
		names, err := list(ctx, cs, ns)
		if err != nil {
			continue
		}
		for _, n := range names {
			if strings.HasPrefix(n, prefix) && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// nameCompletion returns a cobra completion function over the cluster of the
// kubeconfig flags, for the first argument or a flag's value.
func nameCompletion(cf *genericclioptions.ConfigFlags, firstArgOnly bool, listers ...nameLister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if firstArgOnly && len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := cf.ToRESTConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg.Timeout = 5 * time.Second
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return completeNames(cmd.Context(), cs, namespaceOf(cf), toComplete, listers...), cobra.ShellCompDirectiveNoFileComp
	}
}

// setupNameCompletion completes names from the cluster: the DEPLOYMENT
// argument of render, setup and diff, cleanup's HPA (and --hpa-name) from
// the inventories, watch's HPA|DEPLOYMENT, and every --deployment flag.
func setupNameCompletion(root *cobra.Command, cf *genericclioptions.ConfigFlags) {
	deployments := nameCompletion(cf, true, listDeployments)
	for _, c := range root.Commands() {
		switch c.Name() {
		case "render", "setup", "diff":
			c.ValidArgsFunction = deployments
		case "cleanup":
			c.ValidArgsFunction = nameCompletion(cf, true, listInventories)
			_ = c.RegisterFlagCompletionFunc("hpa-name", nameCompletion(cf, false, listInventories))
		case "watch":
			c.ValidArgsFunction = nameCompletion(cf, true, listHPAs, listDeployments)
		}
		if c.Flags().Lookup("deployment") != nil {
			_ = c.RegisterFlagCompletionFunc("deployment", nameCompletion(cf, false, listDeployments))
		}
	}
}
