package preflight

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// MonitoringGroupVersion serves Managed Prometheus' kinds.
const MonitoringGroupVersion = "monitoring.googleapis.com/v1"

// checkCRDs: the plan's Managed Prometheus kinds are served.
func checkCRDs(_ context.Context, env cluster.Env, in Input, r *Result) {
	need := map[string]bool{}
	for _, o := range in.Objects {
		if o.GroupVersionKind().Group == "monitoring.googleapis.com" {
			need[o.GetKind()] = true
		}
	}
	c := Check{Name: "Managed Prometheus CRDs", Fix: "enable Managed Service for Prometheus on the cluster: gcloud container clusters update CLUSTER --location LOCATION --enable-managed-prometheus"}
	list, err := env.Kube.Discovery().ServerResourcesForGroupVersion(MonitoringGroupVersion)
	if err != nil && !apierrors.IsNotFound(err) {
		c.Detail = fmt.Sprintf("cannot read the API discovery of %s: %v", MonitoringGroupVersion, err)
		r.add(c)
		return
	}
	served := map[string]bool{}
	if list != nil {
		for _, res := range list.APIResources {
			served[res.Kind] = true
		}
	}
	var missing, have []string
	for k := range need {
		if served[k] {
			have = append(have, k)
		} else {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(have)
	if len(missing) > 0 {
		c.Detail = fmt.Sprintf("%s does not serve %s", MonitoringGroupVersion, strings.Join(missing, ", "))
	} else {
		c.OK, c.Detail = true, strings.Join(have, ", ")+" served"
	}
	r.add(c)
}

// checkMetricsPort: the PodMonitoring's port is one vLLM serves on. A port
// name must be declared (Managed Prometheus resolves names through the
// container ports). A number may be undeclared when it is the port vLLM
// listens on (its --port, else 8000): Managed Prometheus scrapes a numbered
// port on the pod IP, which is how the tutorial's Deployment, declaring no
// ports, is scraped.
func checkMetricsPort(_ context.Context, _ cluster.Env, in Input, r *Result) {
	c := Check{Name: "metrics port"}
	d := in.Deployment
	if d == nil {
		return
	}
	port := in.Options.MetricsPort
	if n, ok := discover.DeclaredPort(&d.Spec.Template.Spec, port); ok {
		c.OK, c.Detail = true, fmt.Sprintf("deployment %s declares port %d; Managed Prometheus scrapes %s there", d.Name, n, in.Options.MetricsPath)
		r.add(c)
		return
	}
	if n, err := strconv.Atoi(port); err == nil {
		if t := discover.Inspect(d); int(t.Port) == n {
			c.OK, c.Detail = true, fmt.Sprintf("vLLM in deployment %s listens on %d (no container port declares it; Managed Prometheus scrapes a numbered port on the pod IP)", d.Name, n)
			r.add(c)
			return
		}
	}
	c.Detail = fmt.Sprintf("deployment %s neither declares container port %s nor runs vLLM with --port %s", d.Name, port, port)
	c.Fix = fmt.Sprintf("give the port vLLM serves on with --metrics-port, or declare `ports: [{containerPort: N, name: %s}]` on the vLLM container", port)
	r.add(c)
}

// checkAPIServices: the metrics APIServices are free, or already ours.
func checkAPIServices(_ context.Context, _ cluster.Env, in Input, r *Result) {
	for _, o := range in.Objects {
		if o.GetKind() != "APIService" {
			continue
		}
		c := Check{Name: "APIService " + o.GetName()}
		l, read := r.lives[o]
		if !read {
			continue
		}
		live, err := l.obj, l.err
		switch {
		case apierrors.IsForbidden(errors.Unwrap(err)):
			c.Detail = "not allowed to read it (see permissions)"
		case err != nil:
			c.Detail = err.Error()
		case live == nil:
			c.OK, c.Detail = true, "free"
		default:
			owner := "the apiserver itself (no service)"
			if ns, _, _ := unstructured.NestedString(live.Object, "spec", "service", "namespace"); ns != "" {
				name, _, _ := unstructured.NestedString(live.Object, "spec", "service", "name")
				owner = ns + "/" + name
			}
			ours := owner == identity.DefaultNamespace+"/"+identity.DefaultKSA && apply.Ours(live)
			switch {
			case ours:
				c.OK, c.Detail = true, "already ours"
			case in.Force:
				c.OK, c.Detail = true, "served by "+owner+"; --force-conflicts: setup will take it over"
			case owner == identity.DefaultNamespace+"/"+identity.DefaultKSA:
				c.Detail = "served by upstream's custom-metrics-stackdriver-adapter (" + owner + "), not installed by infer-hpa"
				c.Fix = UpstreamAdapterFix
			default:
				c.Detail = "already served by " + owner
				c.Fix = "only one adapter may serve the metrics APIs: remove " + owner + " (e.g. uninstall prometheus-adapter or KEDA's metrics server) or rerun with --force-conflicts to replace it"
			}
		}
		r.add(c)
	}
}

// checkWorkloadIdentity: with a WI mode, nodes run the GKE metadata server.
func checkWorkloadIdentity(ctx context.Context, env cluster.Env, in Input, r *Result) {
	if in.Options.WIMode == identity.ModeNone {
		return
	}
	c := Check{Name: "Workload Identity", Fix: "enable Workload Identity: gcloud container clusters update CLUSTER --workload-pool=PROJECT.svc.id.goog, then gcloud container node-pools update POOL --workload-metadata=GKE_METADATA (or use --wi-mode none)"}
	nodes, err := env.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "iam.gke.io/gke-metadata-server-enabled=true", Limit: 1})
	switch {
	case err != nil:
		c.Detail = "cannot list nodes: " + err.Error()
	case len(nodes.Items) == 0:
		c.Detail = "no node has the label iam.gke.io/gke-metadata-server-enabled=true"
	default:
		c.OK, c.Detail = true, "the GKE metadata server runs on the nodes (node "+nodes.Items[0].Name+")"
	}
	r.add(c)
}

// checkForeign: planned objects that exist without our managed-by label
// belong to someone else. Namespaces are shared freely and never foreign.
func checkForeign(_ context.Context, _ cluster.Env, in Input, r *Result) {
	c := Check{Name: "existing objects"}
	var foreign []string
	r.ExistingNamespaces = map[string]bool{}
	var unreadable []string
	adopted := apply.Adopted(in.Options.Namespace, in.Adopt)
	for _, o := range in.Objects {
		if o.GetKind() == "APIService" {
			continue // their own check names the owner
		}
		if adopted != nil && adopted(o) {
			continue // adopted by name: ours from now on
		}
		l, read := r.lives[o]
		if !read {
			continue // the CRD check reports kinds the cluster does not serve
		}
		live, err := l.obj, l.err
		if apierrors.IsForbidden(errors.Unwrap(err)) {
			unreadable = append(unreadable, refNS(o))
			continue
		}
		if err != nil {
			c.Detail = err.Error()
			r.add(c)
			return
		}
		if o.GetKind() == "Namespace" {
			if live != nil && !apply.Ours(live) {
				r.ExistingNamespaces[o.GetName()] = true
			}
			continue
		}
		if live != nil && !apply.Ours(live) {
			r.Foreign = append(r.Foreign, o)
			foreign = append(foreign, refNS(o))
		}
	}
	switch {
	case len(unreadable) > 0:
		c.Detail = "not allowed to read " + strings.Join(unreadable, ", ") + " (see permissions)"
	case len(foreign) == 0:
		c.OK, c.Detail = true, "none of the planned objects belongs to anyone else"
	case in.Force:
		c.OK, c.Detail = true, "not ours, taken over with --force-conflicts but never deleted: "+strings.Join(foreign, ", ")
	default:
		c.Detail = "exist and were not made by infer-hpa: " + strings.Join(foreign, ", ")
		c.Fix = "delete or rename them, or rerun with --force-conflicts to apply over them (they will still never be pruned or deleted by infer-hpa)"
		if upstreamAdapter(r.Foreign) {
			c.Fix = UpstreamAdapterFix
		}
	}
	r.add(c)
}

// UpstreamAdapterFix is the fix when upstream's adapter manifest (same
// names as ours) is installed: adopting it is the natural step, not
// uninstalling some other adapter.
const UpstreamAdapterFix = "upstream's custom-metrics-stackdriver-adapter is already installed under the names infer-hpa uses: adopt it with --force-conflicts (setup applies its configuration over it; infer-hpa will never prune or delete it), or delete it (kubectl delete -n " + identity.DefaultNamespace + " deployment " + identity.DefaultKSA + ") and rerun"

// upstreamAdapter: the foreign objects include the adapter's Deployment.
func upstreamAdapter(foreign []*unstructured.Unstructured) bool {
	for _, o := range foreign {
		if o.GetKind() == "Deployment" && o.GetNamespace() == identity.DefaultNamespace && o.GetName() == identity.DefaultKSA {
			return true
		}
	}
	return false
}

func refNS(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return apply.Ref(o)
	}
	return apply.Ref(o) + " -n " + o.GetNamespace()
}

// gvrOf maps an object to its resource for access reviews.
func gvrOf(env cluster.Env, o *unstructured.Unstructured) (schema.GroupVersionResource, bool, error) {
	m, err := env.Mapping(o.GroupVersionKind())
	if err != nil {
		return schema.GroupVersionResource{}, false, err
	}
	return m.Resource, m.Scope.Name() == "namespace", nil
}
