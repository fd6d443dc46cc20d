package apply

import (
	"encoding/json"
	"reflect"

	"k8s.io/apimachinery/pkg/api/resource"
)

// IsSubset says whether every field of desired is present in live with the
// same value: maps are compared key by key (live may have more keys), lists
// element by element (same length), numbers as JSON numbers (1 == 1.0), and
// strings that are both resource quantities by value ("0.8" == "800m", as
// the apiserver canonicalises them). When it holds, applying desired would
// change nothing we own, so setup skips the request.
func IsSubset(desired, live any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			lv, ok := l[k]
			if !ok {
				if dv == nil {
					continue
				}
				return false
			}
			if !IsSubset(dv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !IsSubset(d[i], l[i]) {
				return false
			}
		}
		return true
	case string:
		l, ok := live.(string)
		if !ok {
			return false
		}
		return d == l || sameQuantity(d, l)
	case nil:
		return live == nil
	}
	if dn, ok := number(desired); ok {
		ln, ok := number(live)
		return ok && dn == ln
	}
	return reflect.DeepEqual(desired, live)
}

// number renders a JSON number canonically so that int64(1), float64(1) and
// json.Number("1") compare equal.
func number(v any) (string, bool) {
	switch v.(type) {
	case int, int32, int64, float32, float64, json.Number:
	default:
		return "", false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return "", false
	}
	b, _ = json.Marshal(f)
	return string(b), true
}

func sameQuantity(a, b string) bool {
	qa, err := resource.ParseQuantity(a)
	if err != nil {
		return false
	}
	qb, err := resource.ParseQuantity(b)
	return err == nil && qa.Cmp(qb) == 0
}
