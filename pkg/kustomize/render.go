package kustomize

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Result is what the library rendered for a set of options.
type Result struct {
	// Files is the overlay directory that produced the objects (for --export).
	Files  Files
	resMap resmap.ResMap
}

// Render validates complete options (see Options.Complete), then builds
// the manifests.
func Render(o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	files, err := Overlay(o)
	if err != nil {
		return nil, err
	}
	fsys := filesys.MakeFsInMemory()
	if err := files.WriteTo(fsys, "/"); err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified // the kustomization's sortOptions decide
	k := krusty.MakeKustomizer(opts)
	rm, err := k.Run(fsys, "/")
	if err != nil {
		return nil, fmt.Errorf("building the manifest library: %w", err)
	}
	return &Result{Files: files, resMap: rm}, nil
}

// YAML is the manifests as a multi-document YAML stream, exactly as
// `kubectl kustomize` prints the exported directory.
func (r *Result) YAML() ([]byte, error) { return r.resMap.AsYaml() }

// Objects returns the manifests in apply order.
func (r *Result) Objects() ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, res := range r.resMap.Resources() {
		b, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res.CurId(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("%s: %w", res.CurId(), err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}
