package kustomize

import (
	"strings"
	"testing"
)

// What setup and diff infer from the cluster is empty until the planner has
// looked; Complete then fills the defaults, once.
func TestInferredFieldsStartEmpty(t *testing.T) {
	o := NewOptions()
	if o.MetricsPort != "" || o.DCGM != "" || o.Path != "" || o.Project != "" || o.Deployment != "" || len(o.PodSelector) != 0 {
		t.Fatalf("NewOptions pre-fills what setup infers: %+v", o)
	}
	o.Deployment = "vllm"
	o.Complete()
	if o.MetricsPort != DefaultMetricsPort || o.DCGM != DefaultDCGM || o.Path != DefaultPath || o.HPAName != "vllm" || o.PodSelector["app"] != "vllm" || len(o.Metrics) != 1 {
		t.Fatalf("Complete: %+v", o)
	}
	given := NewOptions()
	given.Deployment, given.MetricsPort, given.DCGM, given.Path = "vllm", "8081", DCGMOff, PathNative
	given.Complete()
	if given.MetricsPort != "8081" || given.DCGM != DCGMOff || given.Path != PathNative {
		t.Fatalf("Complete overrode what was given: %+v", given)
	}
}

// ValidateGiven checks what was given before the Deployment is known.
func TestValidateGiven(t *testing.T) {
	cases := map[string]struct {
		set  func(*Options)
		want string
	}{
		"nothing given":            {func(*Options) {}, ""},
		"path auto":                {func(o *Options) { o.Path = PathAuto }, ""},
		"path native":              {func(o *Options) { o.Path = PathNative }, ""},
		"named port on native":     {func(o *Options) { o.Path, o.MetricsPort = PathNative, "http" }, "--metrics-port"},
		"bad port":                 {func(o *Options) { o.MetricsPort = "99999" }, "--metrics-port 99999"},
		"bad hpa name":             {func(o *Options) { o.HPAName = "Bad_Name" }, "--hpa-name"},
		"hpa name over the parent": {func(o *Options) { o.HPAName = strings.Repeat("h", 250) }, "at most 243"},
		"gpu-util with dcgm off":   {func(o *Options) { o.Metrics, o.DCGM = []Metric{{Name: "gpu-util"}}, DCGMOff }, "--dcgm is off"},
		"bad deployment":           {func(o *Options) { o.Deployment = "Bad_Name" }, "--deployment"},
		"gsa without project":      {func(o *Options) { o.WIMode = "gsa" }, "--project"},
	}
	for name, c := range cases {
		o := NewOptions()
		c.set(&o)
		err := o.ValidateGiven()
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if o.MetricsPort == DefaultMetricsPort {
			t.Errorf("%s: ValidateGiven completed the options themselves", name)
		}
	}
}
