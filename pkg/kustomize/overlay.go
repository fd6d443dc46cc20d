package kustomize

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"time"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/infer-hpa/kubectl-infer-hpa/embedded"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/apply"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/identity"
)

// The order objects are applied in: namespaces and identities first, RBAC,
// the adapter's Service before its Deployment and APIServices, monitoring
// objects before the HPA that needs their metrics. kustomize sorts by it, so
// `kubectl kustomize` of an exported directory prints the same order.
var (
	orderFirst = []string{"Namespace", "ServiceAccount", "ClusterRole", "Role",
		"ClusterRoleBinding", "RoleBinding", "Service", "Deployment", "APIService"}
	orderLast = []string{"PodMonitoring", "ClusterPodMonitoring", "ClusterRules", "HorizontalPodAutoscaler"}
)

// Files is a kustomize directory: slash-separated relative path → content.
type Files map[string][]byte

// Overlay returns the directory that builds the options' manifests: the
// embedded library under library/, a values.yaml, a workload/ kustomization
// that sets the namespace, and the root kustomization.yaml. Options must be
// completed and valid.
func Overlay(o Options) (Files, error) {
	files := Files{}
	err := fs.WalkDir(embedded.Library, embedded.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.Library.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		return nil, err
	}
	values, err := valuesYAML(files[path.Join(embedded.Root, "values.yaml")], o)
	if err != nil {
		return nil, err
	}
	files["values.yaml"] = values
	if files["workload/kustomization.yaml"], err = marshal(types.Kustomization{
		Namespace:  o.Namespace,
		Resources:  []string{"../" + embedded.Root + "/workload"},
		Components: workloadComponents(o),
	}); err != nil {
		return nil, err
	}
	files["kustomization.yaml"], err = marshal(rootKustomization(o))
	return files, err
}

func marshal(k types.Kustomization) ([]byte, error) {
	k.APIVersion = types.KustomizationVersion
	k.Kind = types.KustomizationKind
	return yaml.Marshal(k)
}

func rootKustomization(o Options) types.Kustomization {
	lib := func(c string) string { return embedded.Root + "/components/" + c }
	k := types.Kustomization{
		Resources: []string{embedded.Root + "/adapter", "workload", "values.yaml"},
		Labels: []types.Label{{Pairs: map[string]string{
			apply.LabelManagedBy:        apply.ManagedBy,
			"app.kubernetes.io/part-of": "infer-hpa",
		}}},
		SortOptions: &types.SortOptions{
			Order: types.LegacySortOrder,
			LegacySortOptions: &types.LegacySortOptions{
				OrderFirst: orderFirst,
				OrderLast:  orderLast,
			},
		},
	}
	if o.Path == PathNative {
		return nativeKustomization(o, k)
	}
	for _, m := range o.Metrics {
		kind, _ := LookupMetric(m.Name)
		k.Components = append(k.Components, lib(kind.Component))
	}
	k.Patches = targetPatches(o)
	if o.Behavior != BehaviorKubernetes {
		k.Components = append(k.Components, lib("behavior-"+o.Behavior))
	}
	if o.DCGM == DCGMSelf {
		k.Components = append(k.Components, lib("dcgm-self"))
	}
	if o.WIMode == identity.ModeGSA {
		k.Components = append(k.Components, lib("wi-gsa"))
	}
	if o.AdapterNodes == AdapterNodesMetadataServer {
		k.Components = append(k.Components, lib("adapter-metadata-server"))
	}
	k.Components = append(k.Components, lib("params"))
	return k
}

// targetPatches set the targets given with --metric NAME=TARGET. Each metric
// component appends one entry, so metric i is at index i.
func targetPatches(o Options) []types.Patch {
	var patches []types.Patch
	for i, m := range o.Metrics {
		if m.Target == nil {
			continue
		}
		patches = append(patches, types.Patch{
			Target: &types.Selector{ResId: resid.NewResIdKindOnly("HorizontalPodAutoscaler", "")},
			Patch: fmt.Sprintf("- op: replace\n  path: /spec/metrics/%d/pods/target/averageValue\n  value: %q\n",
				i, m.Target.String()),
		})
	}
	return patches
}

// valuesYAML sets the options into the library's commented values.yaml,
// keeping its comments, so an exported directory documents itself.
func valuesYAML(template []byte, o Options) ([]byte, error) {
	node, err := kyaml.Parse(string(template))
	if err != nil {
		return nil, err
	}
	selector := kyaml.NewMapRNode(&o.PodSelector)
	port := kyaml.NewScalarRNode(o.MetricsPort)
	if _, isNumber := o.MetricsPortValue().(int); isNumber {
		port.YNode().Tag = kyaml.NodeTagInt
	}
	type field struct {
		name  string
		value *kyaml.RNode
	}
	fields := []field{
		{"deployment", kyaml.NewStringRNode(o.Deployment)},
		{"hpaName", kyaml.NewStringRNode(o.HPAName)},
		{"podMonitoringName", kyaml.NewStringRNode(o.PodMonitoringName)},
		{"podSelector", selector},
		{"metricsPort", port},
		{"metricsPath", kyaml.NewStringRNode(o.MetricsPath)},
		{"scrapeInterval", kyaml.NewStringRNode(promDuration(o.ScrapeInterval))},
		{"minReplicas", intNode(o.MinReplicas)},
		{"maxReplicas", intNode(o.MaxReplicas)},
		{"adapterImage", kyaml.NewStringRNode(o.AdapterImage)},
	}
	if o.Path == PathNative {
		fields = append(fields, field{"autoscalingMetricName", kyaml.NewStringRNode(o.AutoscalingMetricName)})
	}
	if o.WIMode == identity.ModeGSA {
		fields = append(fields, field{"gsaEmail", kyaml.NewStringRNode(o.GSAEmail())})
	}
	spec, err := node.Pipe(kyaml.Lookup("spec"))
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if err := spec.PipeE(kyaml.SetField(f.name, f.value)); err != nil {
			return nil, fmt.Errorf("values.yaml: set %s: %w", f.name, err)
		}
	}
	s, err := node.String()
	return []byte(s), err
}

func intNode(v int32) *kyaml.RNode {
	n := kyaml.NewScalarRNode(strconv.Itoa(int(v)))
	n.YNode().Tag = kyaml.NodeTagInt
	return n
}

// promDuration writes a whole-second duration the way Prometheus and the
// Managed Prometheus CRDs expect (15s, 1m, 1m30s).
func promDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s%3600 == 0:
		return fmt.Sprintf("%dh", s/3600)
	case s >= 60 && s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	case s > 60:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

// WriteTo writes the directory into a filesystem under dir.
func (f Files) WriteTo(fsys filesys.FileSystem, dir string) error {
	for p, b := range f {
		full := path.Join(dir, p)
		if err := fsys.MkdirAll(path.Dir(full)); err != nil {
			return err
		}
		if err := fsys.WriteFile(full, b); err != nil {
			return err
		}
	}
	return nil
}
