package dcgm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/dcgm"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/vllm"
)

func TestSeriesFollowTheWorkload(t *testing.T) {
	m := vllm.DefaultModel()
	m.Speed = 10
	srv, err := vllm.Start(m, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	load := func() dcgm.Load {
		s := srv.Stats()
		return dcgm.Load{Busy: s.Busy, BatchFill: float64(s.Running) / float64(m.MaxNumSeqs)}
	}
	exp, err := dcgm.Start(dcgm.Node{Hostname: "gke-twin-gpu-pool-1", Accelerator: "nvidia-l4", Interval: 200 * time.Millisecond,
		GPUs: func() []dcgm.GPU {
			return []dcgm.GPU{{Pod: "vllm-0", Namespace: "default", Container: "inference-server", Load: load}, {}}
		}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()

	// Keep the server busy for a while.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	for range 4 {
		go func() {
			body, _ := json.Marshal(map[string]any{"model": m.Name, "prompt": "hello", "max_tokens": 100})
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+srv.Addr()+"/v1/completions", bytes.NewReader(body))
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	time.Sleep(time.Second)

	resp, err := http.Get("http://" + exp.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	values := map[string]map[string]float64{} // metric -> gpu -> value
	for _, name := range []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_POWER_USAGE"} {
		f := fams[name]
		if f == nil || len(f.Metric) != 2 {
			t.Fatalf("%s: %v", name, f)
		}
		values[name] = map[string]float64{}
		for _, s := range f.Metric {
			l := map[string]string{}
			for _, p := range s.Label {
				l[p.GetName()] = p.GetValue()
			}
			values[name][l["gpu"]] = s.GetGauge().GetValue()
			if l["modelName"] != "NVIDIA L4" || l["Hostname"] != "gke-twin-gpu-pool-1" || l["UUID"] == "" {
				t.Errorf("%s labels %v", name, l)
			}
			if l["gpu"] == "0" && (l["pod"] != "vllm-0" || l["namespace"] != "default" || l["container"] != "inference-server") {
				t.Errorf("%s on GPU 0 lacks the workload's pod labels: %v", name, l)
			}
			if _, ok := l["pod"]; l["gpu"] == "1" && ok {
				t.Errorf("%s on the idle GPU 1 has a pod label: %v", name, l)
			}
		}
	}
	if u := values["DCGM_FI_DEV_GPU_UTIL"]["0"]; u < 50 {
		t.Errorf("GPU 0 utilisation %v%% under continuous load, want ≥ 50", u)
	}
	if u := values["DCGM_FI_DEV_GPU_UTIL"]["1"]; u != 0 {
		t.Errorf("idle GPU 1 utilisation %v", u)
	}
	if used, free := values["DCGM_FI_DEV_FB_USED"]["0"], values["DCGM_FI_DEV_FB_FREE"]["0"]; used < 20000 || used+free != 23034 {
		t.Errorf("GPU 0 framebuffer used %v free %v", used, free)
	}
	if p0, p1 := values["DCGM_FI_DEV_POWER_USAGE"]["0"], values["DCGM_FI_DEV_POWER_USAGE"]["1"]; p0 <= p1 {
		t.Errorf("power of the busy GPU %vW not above the idle one %vW", p0, p1)
	}
}
