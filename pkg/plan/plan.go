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
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/discover"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/preflight"
)

// Input is what the user gave.
type Input struct {
	// Options from the flags; Deployment may be empty (then discovered).
	Options kustomize.Options
	// Given says whether the user set a flag ("metrics-port", "dcgm", ...).
	Given func(flag string) bool
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
func Build(ctx context.Context, env preflight.Env, in Input) (*Plan, error) {
	o := in.Options
	given := in.Given
	if given == nil {
		given = func(string) bool { return false }
	}
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
	case given("pod-label"):
		if err := t.SelectsPods(o.PodSelector); err != nil {
			return nil, err
		}
	case len(t.PodLabels) == 0:
		return nil, t.NeedPodLabels()
	default:
		o.PodSelector = t.PodLabels
		p.note("pods %s (the Deployment's selector)", discover.FormatLabels(t.PodLabels))
	}
	if !given("metrics-port") {
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
		if !given("project") {
			o.Project = p.GKE.Project
		}
	}
	if o.WIMode != kustomize.WINone {
		note, err := discover.CheckProject(o.Project, p.GKE, in.AllowProjectMismatch)
		if err != nil {
			return nil, err
		}
		if note != "" {
			p.note("%s", note)
		}
	}
	if !given("dcgm") {
		managed, err := preflight.ManagedDCGM(ctx, env.Kube, env.Dynamic)
		if err != nil {
			return nil, err
		}
		o.Complete()
		o.DCGM = preflight.ChooseDCGM(managed, o.Metrics)
		why := "GKE's managed DCGM exporter runs"
		if !managed {
			why = "GKE's managed DCGM exporter not found"
		}
		p.note("--dcgm %s (%s)", o.DCGM, why)
	}
	if err := p.resolvePath(ctx, env, &o); err != nil {
		return nil, err
	}
	res, err := kustomize.Render(o)
	if err != nil {
		return nil, err
	}
	o.Complete()
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
	a := map[string]string{AnnotationWIMode: o.WIMode, AnnotationProject: o.Project}
	if o.WIMode == kustomize.WIGSA {
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

// Disown strips our ownership labels from objects that exist and are not
// ours (applied over with --force-conflicts): they never join the
// inventory, so they are never pruned or deleted. Namespaces that exist
// are left out of the plan altogether.
func (p *Plan) Disown(foreign []*unstructured.Unstructured, existingNamespaces map[string]bool) {
	f := map[*unstructured.Unstructured]bool{}
	for _, o := range foreign {
		f[o] = true
	}
	var kept []*unstructured.Unstructured
	for _, o := range p.Objects {
		if o.GetKind() == "Namespace" && existingNamespaces[o.GetName()] {
			p.note("namespace %s exists and is not ours: used as is, never deleted", o.GetName())
			continue
		}
		if f[o] {
			l := o.GetLabels()
			delete(l, apply.LabelPartOf)
			delete(l, apply.LabelManagedBy)
			o.SetLabels(l)
		}
		kept = append(kept, o)
	}
	p.Objects = kept
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
