package plan

import (
	"testing"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/kustomize"
)

func TestChooseDCGM(t *testing.T) {
	running := []kustomize.Metric{{Name: "running"}}
	gpu := []kustomize.Metric{{Name: "running"}, {Name: "gpu-util"}}
	cases := []struct {
		managed bool
		metrics []kustomize.Metric
		want    string
	}{
		{true, running, kustomize.DCGMManaged},
		{true, gpu, kustomize.DCGMManaged},
		{false, gpu, kustomize.DCGMSelf},
		{false, running, kustomize.DCGMOff},
	}
	for _, c := range cases {
		if got := chooseDCGM(c.managed, c.metrics); got != c.want {
			t.Errorf("chooseDCGM(%v, %v) = %s, want %s", c.managed, c.metrics, got, c.want)
		}
	}
}
