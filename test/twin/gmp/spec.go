package gmp

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The Managed Prometheus kinds the emulation acts on.
var (
	PodMonitoringGVR        = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "podmonitorings"}
	ClusterPodMonitoringGVR = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "clusterpodmonitorings"}
	RulesGVR                = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "rules"}
	ClusterRulesGVR         = schema.GroupVersionResource{Group: group, Version: "v1", Resource: "clusterrules"}
)

const group = "monitoring.googleapis.com"

// monitoringSpec is the part of a (Cluster)PodMonitoring spec the
// collectors act on.
type monitoringSpec struct {
	Selector     metav1.LabelSelector `json:"selector"`
	Endpoints    []endpoint           `json:"endpoints"`
	TargetLabels struct {
		Metadata *[]string `json:"metadata,omitempty"`
		FromPod  []struct {
			From string `json:"from"`
			To   string `json:"to,omitempty"`
		} `json:"fromPod,omitempty"`
	} `json:"targetLabels"`
}

type endpoint struct {
	Port             intstr.IntOrString `json:"port"`
	Path             string             `json:"path,omitempty"`
	Interval         string             `json:"interval,omitempty"`
	Timeout          string             `json:"timeout,omitempty"`
	MetricRelabeling []relabelRule      `json:"metricRelabeling,omitempty"`
}

type relabelRule struct {
	Action       string   `json:"action,omitempty"`
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        *string  `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
}

// rulesSpec is a Rules/ClusterRules spec (alerting rules are ignored).
type rulesSpec struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval"`
		Rules    []struct {
			Record string            `json:"record,omitempty"`
			Alert  string            `json:"alert,omitempty"`
			Expr   string            `json:"expr"`
			Labels map[string]string `json:"labels,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

func decodeSpec(u *unstructured.Unstructured, into any) error {
	m, _, _ := unstructured.NestedMap(u.Object, "spec")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, into); err != nil {
		return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// relabelConfigs converts GMP's metricRelabeling to Prometheus configs,
// with Prometheus's defaults for omitted fields.
func relabelConfigs(rs []relabelRule) ([]*relabel.Config, error) {
	var out []*relabel.Config
	for i, r := range rs {
		c := relabel.DefaultRelabelConfig
		c.NameValidationScheme = model.UTF8Validation
		if r.Action != "" {
			c.Action = relabel.Action(strings.ToLower(r.Action))
		}
		for _, l := range r.SourceLabels {
			c.SourceLabels = append(c.SourceLabels, model.LabelName(l))
		}
		if r.Separator != nil {
			c.Separator = *r.Separator
		}
		c.TargetLabel = r.TargetLabel
		if r.Regex != nil {
			re, err := relabel.NewRegexp(*r.Regex)
			if err != nil {
				return nil, fmt.Errorf("metricRelabeling[%d].regex: %w", i, err)
			}
			c.Regex = re
		}
		c.Modulus = r.Modulus
		if r.Replacement != nil {
			c.Replacement = *r.Replacement
		}
		if err := c.Validate(model.UTF8Validation); err != nil {
			return nil, fmt.Errorf("metricRelabeling[%d]: %w", i, err)
		}
		out = append(out, &c)
	}
	return out, nil
}

// duration parses a Prometheus duration ("15s", "1m"), def when empty.
func duration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := model.ParseDuration(s)
	return time.Duration(d), err
}
