// Package cluster reaches the Kubernetes cluster the way every command
// does: one set of clients (typed, dynamic, REST mapper) built from
// kubectl's flags, checked with one request, and the kubeconfig context in
// use. Planning, preflight, apply, doctor and watch take these clients.
package cluster

import (
	"context"
	"fmt"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
)

// Env is the cluster's clients: the typed clientset for reads and access
// reviews, and the dynamic clients for what setup applies.
type Env struct {
	Kube kubernetes.Interface
	apply.Clients
}

// Session is a reachable cluster.
type Session struct {
	Env
	// Context is the kubeconfig context in use (GKE's names may come from
	// it).
	Context string
}

// Connect builds the clients and makes one request, so that an unreachable
// cluster is a one-line error before anything else.
func Connect(ctx context.Context, cf *genericclioptions.ConfigFlags) (*Session, error) {
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
	s := &Session{Env: Env{Kube: kube, Clients: clients}}
	if cf.Context != nil && *cf.Context != "" {
		s.Context = *cf.Context
	} else if raw, err := cf.ToRawKubeConfigLoader().RawConfig(); err == nil {
		s.Context = raw.CurrentContext
	}
	return s, nil
}
