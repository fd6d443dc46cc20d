// Package printers writes values as JSON or YAML, the way kubectl's -o
// does: every -o of the plugin goes through Print or Objects.
package printers

import (
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Print writes v to w as "json" (indented) or "yaml".
func Print(w io.Writer, format string, v any) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("output format %q is not supported: use json or yaml", format)
}

// Objects writes Kubernetes objects as kubectl prints several: "yaml" as a
// stream of documents separated by "---", "json" as a v1 List indented by
// four spaces.
func Objects(w io.Writer, format string, objs []*unstructured.Unstructured) error {
	switch format {
	case "json":
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": objs}
		b, err := json.MarshalIndent(list, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml", "":
		for i, o := range objs {
			b, err := yaml.Marshal(o.Object)
			if err != nil {
				return err
			}
			if i > 0 {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("output format %q is not supported: use json or yaml", format)
}
