// Package plan computes what setup will do on a cluster: it reads the
// cluster (the vLLM Deployment, GKE names, the managed DCGM exporter), fills
// in what the user did not give, renders the library, and prepares the
// objects as members of the inventory. It writes nothing.
package plan

import (
	"context"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/cluster"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

// Input is what the user gave.
type Input struct {
	// Options from the flags, not completed: what is empty (the Deployment,
	// the pod labels, the metrics port, the project, DCGM, the path) is
	// inferred from the cluster, then the rest is defaulted once.
	Options kustomize.Options
	// Context is the kubeconfig context in use (for the GKE names).
	Context string
	// AllowProjectMismatch is --allow-project-mismatch.
	AllowProjectMismatch bool
	// Force is --force-conflicts: apply over objects that are not ours.
	Force bool
	// Adopt names a PodMonitoring that is not ours and that setup takes
	// over (--adopt-podmonitoring): it becomes ours under that name.
	Adopt string
}

// Plan is the completed options, what was inferred, and the objects.
type Plan struct {
	Options kustomize.Options
	Target  *discover.Target
	GKE     discover.GKE
	Set     apply.ApplySet
	// Objects are the members, prepared (labelled, stamped), in apply order.
	Objects []*unstructured.Unstructured
	// Notes say what was inferred and why, one line each.
	Notes []string
}

// Build reads the cluster and computes the plan.
func Build(ctx context.Context, env cluster.Env, in Input) (*Plan, error) {
	o := in.Options
	d, err := discover.FindDeployment(ctx, env.Kube, o.Namespace, o.Deployment)
	if err != nil {
		return nil, err
	}
	t := discover.Inspect(d)
	p := &Plan{Target: t}
	o.Deployment = d.Name
	how := "named"
	if in.Options.Deployment == "" {
		how = "the only Deployment running vLLM in the namespace"
	}
	p.note("deployment %s/%s (%s)", d.Namespace, d.Name, how)
	switch {
	case len(o.PodSelector) > 0:
		if err := t.SelectsPods(o.PodSelector); err != nil {
			return nil, err
		}
	case len(t.PodLabels) == 0:
		return nil, t.NeedPodLabels()
	default:
		o.PodSelector = t.PodLabels
		p.note("pods %s (the Deployment's selector)", discover.FormatLabels(t.PodLabels))
	}
	if o.MetricsPort == "" {
		o.MetricsPort = strconv.Itoa(int(t.Port))
		src := "vLLM's default"
		if p2, ok := discover.PortArg(containerArgs(t)); ok && p2 == t.Port {
			src = "vLLM's --port in container " + t.Container
		}
		p.note("metrics on port %d%s (%s)", t.Port, o.MetricsPath, src)
	}
	p.GKE = discover.DetectGKE(ctx, env.Kube, in.Context)
	if p.GKE.Project != "" {
		p.note("GKE project %s, location %s, cluster %s (from %s)", p.GKE.Project, orDash(p.GKE.Location), orDash(p.GKE.Cluster), p.GKE.Source)
		if o.Project == "" {
			o.Project = p.GKE.Project
		}
	}
	if o.WIMode != identity.ModeNone {
		note, err := discover.CheckProject(o.Project, p.GKE, in.AllowProjectMismatch)
		if err != nil {
			return nil, err
		}
		if note != "" {
			p.note("%s", note)
		}
	}
	if o.DCGM == "" {
		managed, err := discover.ManagedDCGM(ctx, env.Kube, env.Dynamic)
		if err != nil {
			return nil, err
		}
		o.DCGM = chooseDCGM(managed, o.MetricsOrDefault())
		why := "GKE's managed DCGM exporter runs"
		if !managed {
			why = "GKE's managed DCGM exporter not found"
		}
		p.note("--dcgm %s (%s)", o.DCGM, why)
	}
	if o.Path == "" {
		o.Path = kustomize.PathAuto
	}
	if err := p.resolvePath(ctx, env, &o); err != nil {
		return nil, err
	}
	o.Complete()
	res, err := kustomize.Render(o)
	if err != nil {
		return nil, err
	}
	p.Options = o
	objs, err := res.Objects()
	if err != nil {
		return nil, err
	}
	p.Set = apply.ForHPA(o.Namespace, o.HPAName)
	p.Set.Annotations = IAMAnnotations(o)
	p.Objects = p.Set.Prepare(objs)
	return p, nil
}

// Annotations of the inventory's parent that record the Workload Identity
// settings, so that cleanup --iam undoes exactly what setup granted.
const (
	AnnotationWIMode  = "infer-hpa.github.io/wi-mode"
	AnnotationProject = "infer-hpa.github.io/project"
	AnnotationGSAName = "infer-hpa.github.io/gsa-name"
)

// IAMAnnotations records the Workload Identity settings of o.
func IAMAnnotations(o kustomize.Options) map[string]string {
	a := map[string]string{AnnotationWIMode: string(o.WIMode), AnnotationProject: o.Project}
	if o.WIMode == identity.ModeGSA {
		a[AnnotationGSAName] = o.GSAName
	}
	return a
}

// Parent is the inventory's parent as it will be after setup.
func (p *Plan) Parent() *unstructured.Unstructured {
	gks, nss := apply.Footprint(p.Objects)
	return p.Set.Parent(gks, nss)
}

// WithParent is the parent followed by the members: everything setup applies.
func (p *Plan) WithParent() []*unstructured.Unstructured {
	return append([]*unstructured.Unstructured{p.Parent()}, p.Objects...)
}

func (p *Plan) note(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

func containerArgs(t *discover.Target) []string {
	for _, c := range t.Deployment.Spec.Template.Spec.Containers {
		if c.Name == t.Container {
			return append(append([]string{}, c.Command...), c.Args...)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
