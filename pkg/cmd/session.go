package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/preflight"
)

// session is a reachable cluster: the clients setup, diff and cleanup use.
type session struct {
	env     preflight.Env
	context string
}

// connect builds the clients and makes one request, so that an unreachable
// cluster is a one-line error before anything else.
func connect(ctx context.Context, cf *genericclioptions.ConfigFlags) (*session, error) {
	cfg, err := cf.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("no usable kubeconfig: %w: check --kubeconfig and --context", err)
	}
	cfg.QPS, cfg.Burst = apply.QPS, apply.Burst
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return nil, fmt.Errorf("cannot reach the cluster at %s: %v: check --kubeconfig and --context", cfg.Host, err)
	}
	clients, err := apply.NewClients(cf)
	if err != nil {
		return nil, err
	}
	s := &session{env: preflight.Env{Kube: kube, Clients: clients}}
	if cf.Context != nil && *cf.Context != "" {
		s.context = *cf.Context
	} else if raw, err := cf.ToRawKubeConfigLoader().RawConfig(); err == nil {
		s.context = raw.CurrentContext
	}
	return s, nil
}

// givenFlags reports whether the user set a flag of cmd.
func givenFlags(cmd *cobra.Command) func(string) bool {
	return func(name string) bool {
		f := cmd.Flags().Lookup(name)
		return f != nil && f.Changed
	}
}
