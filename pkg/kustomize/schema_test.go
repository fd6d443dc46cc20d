package kustomize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// crdDir finds shared/testdata/crds: $INFER_HPA_CRDS, or a shared/ folder
// beside the repository (or any folder above the test).
func crdDir(t *testing.T) string {
	if d := os.Getenv("INFER_HPA_CRDS"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for {
		c := filepath.Join(dir, "shared", "testdata", "crds")
		if _, err := os.Stat(c); err == nil {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("shared/testdata/crds (the Managed Prometheus CRDs) not found beside the repository: set INFER_HPA_CRDS to its path")
		}
		dir = parent
	}
}

// crdValidators loads every CRD's storage-version schema, keyed by kind.
func crdValidators(t *testing.T) map[string]*validate.SchemaValidator {
	dir := crdDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	out := map[string]*validate.SchemaValidator{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(b, &crd); err != nil || crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name != "v1" || v.Schema == nil {
				continue
			}
			raw, _ := json.Marshal(v.Schema.OpenAPIV3Schema)
			var s spec.Schema
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out[crd.Spec.Names.Kind] = validate.NewSchemaValidator(&s, nil, "", strfmt.Default)
		}
	}
	for _, k := range []string{"PodMonitoring", "ClusterPodMonitoring", "Rules", "ClusterRules"} {
		if out[k] == nil {
			t.Fatalf("no monitoring.googleapis.com/v1 schema for %s in %s", k, dir)
		}
	}
	return out
}

// TestManagedPrometheusSchemas checks every rendered PodMonitoring,
// ClusterPodMonitoring and (Cluster)Rules against GKE's real CRD schemas.
func TestManagedPrometheusSchemas(t *testing.T) {
	validators := crdValidators(t)
	checked := map[string]int{}
	for name, o := range variants() {
		res, err := Render(complete(o))
		if err != nil {
			t.Fatal(err)
		}
		objs, err := res.Objects()
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			v := validators[obj.GetKind()]
			if obj.GroupVersionKind().Group != "monitoring.googleapis.com" {
				continue
			}
			if v == nil {
				t.Errorf("%s: %s has no schema to check against", name, obj.GetKind())
				continue
			}
			if r := v.Validate(obj.Object); !r.IsValid() {
				t.Errorf("%s: %s/%s does not match the CRD schema: %v", name, obj.GetKind(), obj.GetName(), r.Errors)
			}
			checked[obj.GetKind()]++
		}
	}
	for _, k := range []string{"PodMonitoring", "ClusterPodMonitoring", "ClusterRules"} {
		if checked[k] == 0 {
			t.Errorf("no %s was rendered by any variant, so none was checked", k)
		}
	}
}

// TestSchemaCheckRejects proves the schema check can fail: a PodMonitoring
// whose interval is a number instead of a duration string is refused.
func TestSchemaCheckRejects(t *testing.T) {
	v := crdValidators(t)["PodMonitoring"]
	bad := map[string]any{
		"apiVersion": "monitoring.googleapis.com/v1", "kind": "PodMonitoring",
		"metadata": map[string]any{"name": "x"},
		"spec": map[string]any{
			"selector":  map[string]any{},
			"endpoints": []any{map[string]any{"port": 8081, "interval": 15}},
		},
	}
	if v.Validate(bad).IsValid() {
		t.Fatal("a PodMonitoring with interval 15 (a number) passed the schema check")
	}
}
