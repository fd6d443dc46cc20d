package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

// sharedKeeper keeps shared objects when another infer-hpa inventory
// exists in the cluster; it looks once, and says so once.
func (s *session) sharedKeeper(ctx context.Context, set apply.ApplySet, progress *apply.Progress) apply.Keep {
	var others *apply.Inventories
	return func(*unstructured.Unstructured) bool {
		if others == nil {
			others = s.otherInventories(ctx, set, progress)
		}
		return len(others.Names) > 0
	}
}

// otherInventories lists the other infer-hpa inventories and says so when
// shared objects are kept for them; when it cannot tell, it keeps them.
func (s *session) otherInventories(ctx context.Context, set apply.ApplySet, progress *apply.Progress) *apply.Inventories {
	others, err := s.env.OtherInventories(ctx, set)
	if err != nil {
		progress.Printf("warning: %v; keeping shared objects to be safe", err)
		others.Names = []string{"(unknown)"}
	} else if len(others.Names) > 0 {
		progress.Printf("keeping the shared adapter, RBAC and APIServices: also used by infer-hpa inventories %s", strings.Join(others.Names, ", "))
	}
	return &others
}
