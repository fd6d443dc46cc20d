package vllm_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/sim/vllm"
)

// testModel has a small batch and runs 5× faster than real time.
func testModel() vllm.Model {
	m := vllm.DefaultModel()
	m.Name = "test/model"
	m.MaxNumSeqs = 4
	m.DecodeBase = 20 * time.Millisecond
	m.DecodePerSeq = 2 * time.Millisecond
	m.PrefillPerToken = 100 * time.Microsecond
	m.Speed = 5
	return m
}

func start(t *testing.T, m vllm.Model) *vllm.Server {
	t.Helper()
	s, err := vllm.Start(m, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func post(t *testing.T, url string, body any) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

func scrape(t *testing.T, s *vllm.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	return fams
}

func TestMetricsParseWithVLLMNamesTypesLabels(t *testing.T) {
	m := testModel()
	m.LegacyMetrics = true
	s := start(t, m)
	resp, body := post(t, "http://"+s.Addr()+"/v1/completions", map[string]any{"model": m.Name, "prompt": strings.Repeat("x", 40), "max_tokens": 3})
	if resp.StatusCode != 200 {
		t.Fatalf("completion: %s %s", resp.Status, body)
	}
	fams := scrape(t, s)
	want := map[string]dto.MetricType{
		"vllm:num_requests_running":        dto.MetricType_GAUGE,
		"vllm:num_requests_waiting":        dto.MetricType_GAUGE,
		"vllm:kv_cache_usage_perc":         dto.MetricType_GAUGE,
		"vllm:gpu_cache_usage_perc":        dto.MetricType_GAUGE,
		"vllm:prompt_tokens_total":         dto.MetricType_COUNTER,
		"vllm:generation_tokens_total":     dto.MetricType_COUNTER,
		"vllm:e2e_request_latency_seconds": dto.MetricType_HISTOGRAM,
		"vllm:time_to_first_token_seconds": dto.MetricType_HISTOGRAM,
	}
	for name, typ := range want {
		f := fams[name]
		if f == nil {
			t.Errorf("no %s in /metrics", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s has type %s, want %s", name, f.GetType(), typ)
		}
		var model string
		for _, l := range f.Metric[0].Label {
			if l.GetName() == "model_name" {
				model = l.GetValue()
			}
		}
		if model != m.Name {
			t.Errorf("%s model_name = %q, want %q", name, model, m.Name)
		}
	}
	if got := fams["vllm:prompt_tokens_total"].Metric[0].GetCounter().GetValue(); got != 10 {
		t.Errorf("prompt tokens = %v, want 10 (40 bytes / 4)", got)
	}
	if got := fams["vllm:generation_tokens_total"].Metric[0].GetCounter().GetValue(); got != 3 {
		t.Errorf("generation tokens = %v, want 3", got)
	}
	if got := fams["vllm:e2e_request_latency_seconds"].Metric[0].GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("e2e latency count = %v, want 1", got)
	}
	// Without the option, the removed gauge is gone as in current vLLM.
	if _, ok := scrape(t, start(t, testModel()))["vllm:gpu_cache_usage_perc"]; ok {
		t.Error("vllm:gpu_cache_usage_perc exposed without LegacyMetrics")
	}
}

func TestOpenAIEndpoints(t *testing.T) {
	m := testModel()
	s := start(t, m)
	base := "http://" + s.Addr()
	resp, err := http.Get(base + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/health: %v %v", err, resp)
	}
	resp, err = http.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Data) != 1 || models.Data[0].ID != m.Name {
		t.Errorf("/v1/models = %+v", models)
	}

	resp, body := post(t, base+"/v1/chat/completions", map[string]any{"model": m.Name, "max_tokens": 4,
		"messages": []any{map[string]any{"role": "user", "content": "hi"}}})
	var chat struct {
		Object  string
		Choices []struct {
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal(body, &chat); err != nil || resp.StatusCode != 200 {
		t.Fatalf("chat: %s %s", resp.Status, body)
	}
	if chat.Object != "chat.completion" || len(chat.Choices) != 1 || chat.Choices[0].Message.Role != "assistant" ||
		len(strings.Fields(chat.Choices[0].Message.Content)) != 4 || chat.Usage.CompletionTokens != 4 || chat.Choices[0].FinishReason != "length" {
		t.Errorf("chat answer: %s", body)
	}

	// Streaming: one SSE event per token, then [DONE].
	b, _ := json.Marshal(map[string]any{"model": m.Name, "prompt": "hello", "max_tokens": 5, "stream": true})
	resp, err = http.Post(base+"/v1/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("stream Content-Type = %q", ct)
	}
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			events = append(events, d)
		}
	}
	if len(events) != 6 || events[5] != "[DONE]" || !strings.Contains(events[4], `"finish_reason":"length"`) ||
		!strings.Contains(events[0], `"object":"text_completion"`) {
		t.Errorf("stream events = %q", events)
	}

	resp, body = post(t, base+"/v1/completions", map[string]any{"model": "other", "prompt": "x"})
	if resp.StatusCode != 404 || !strings.Contains(string(body), "does not exist") {
		t.Errorf("unknown model: %s %s", resp.Status, body)
	}
	resp, body = post(t, base+"/v1/completions", map[string]any{"model": m.Name, "prompt": "x", "max_tokens": m.MaxModelLen})
	if resp.StatusCode != 400 || !strings.Contains(string(body), "maximum context length") {
		t.Errorf("too long: %s %s", resp.Status, body)
	}
}

// closedLoop runs clients that each send n requests back to back and
// returns the median latency in model time (the median, not the mean: a
// busy CI machine stalls a goroutine now and then).
func closedLoop(t *testing.T, s *vllm.Server, clients, n, prompt, output int) time.Duration {
	t.Helper()
	m := s.Model()
	var (
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	body, _ := json.Marshal(map[string]any{"model": m.Name, "prompt": strings.Repeat("y", 4*prompt), "max_tokens": output})
	for range clients {
		wg.Go(func() {
			for i := range n {
				began := time.Now()
				resp, err := http.Post("http://"+s.Addr()+"/v1/completions", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if i == 0 {
					continue // warm-up: the first round starts all at once
				}
				mu.Lock()
				lats = append(lats, time.Since(began))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(lats)
	return time.Duration(float64(lats[len(lats)/2]) * m.Speed)
}

func TestRunningNeverExceedsMaxNumSeqs(t *testing.T) {
	m := testModel()
	s := start(t, m)
	done := make(chan struct{})
	maxRunning, maxWaiting := 0, 0
	go func() {
		defer close(done)
		closedLoop(t, s, 12, 3, 10, 10)
	}()
	for {
		select {
		case <-done:
			if maxRunning != m.MaxNumSeqs {
				t.Errorf("max running = %d, want exactly max_num_seqs %d under overload", maxRunning, m.MaxNumSeqs)
			}
			if maxWaiting < 12-m.MaxNumSeqs-1 {
				t.Errorf("max waiting = %d, want about %d", maxWaiting, 12-m.MaxNumSeqs)
			}
			return
		case <-time.After(time.Millisecond):
			checkRunningGauge(t, s)
			st := s.Stats()
			maxRunning, maxWaiting = max(maxRunning, st.Running), max(maxWaiting, st.Waiting)
		}
	}
}

// checkRunningGauge holds the exposed gauge to the same bound as the engine.
func checkRunningGauge(t *testing.T, s *vllm.Server) {
	v := scrape(t, s)["vllm:num_requests_running"].Metric[0].GetGauge().GetValue()
	if int(v) > s.Model().MaxNumSeqs {
		t.Errorf("vllm:num_requests_running = %v > max_num_seqs %d", v, s.Model().MaxNumSeqs)
	}
}

func TestLatencyFollowsTheModelAroundTheKnee(t *testing.T) {
	m := testModel()
	s := start(t, m)
	const prompt, output = 100, 20
	knee := m.Knee(prompt, output)
	if knee != m.MaxNumSeqs {
		t.Fatalf("knee = %d, want max_num_seqs %d (the KV cache is large)", knee, m.MaxNumSeqs)
	}
	measured := map[int]time.Duration{}
	for _, c := range []int{1, knee, 2 * knee, 4 * knee} {
		got := closedLoop(t, s, c, 6, prompt, output)
		want := m.Latency(c, prompt, output)
		measured[c] = got
		t.Logf("concurrency %2d: median latency %v (model %v)", c, got.Round(time.Millisecond), want)
		if got < want*85/100 || got > want*135/100 {
			t.Errorf("concurrency %d: latency %v, model says %v (±15%%/+35%%)", c, got, want)
		}
	}
	// Up to the knee latency barely moves; past it, it doubles with concurrency.
	if r := float64(measured[knee]) / float64(measured[1]); r > 1.6 {
		t.Errorf("latency at the knee is %.2f× that of one client, want < 1.6×", r)
	}
	if r := float64(measured[4*knee]) / float64(measured[2*knee]); r < 1.6 {
		t.Errorf("latency at 4× the knee is %.2f× that at 2×, want ≥ 1.6×", r)
	}
}

func TestKVCacheLimitsTheBatch(t *testing.T) {
	m := testModel()
	m.MaxNumSeqs = 64
	m.KVCacheTokens = 300
	if got := m.Knee(100, 50); got != 2 {
		t.Fatalf("knee = %d, want 300/150 = 2", got)
	}
	s := start(t, m)
	done := make(chan struct{})
	go func() { defer close(done); closedLoop(t, s, 6, 2, 100, 50) }()
	peak := 0
	for {
		select {
		case <-done:
			if peak != 2 {
				t.Errorf("peak running = %d, want 2 (KV cache holds two requests)", peak)
			}
			return
		case <-time.After(time.Millisecond):
			peak = max(peak, s.Stats().Running)
			if u := s.Stats().KVCacheUsage; u > 1 {
				t.Errorf("KV cache usage %v > 1", u)
			}
		}
	}
}

func ExampleModel_Knee() {
	m := vllm.DefaultModel()
	fmt.Println(m.Knee(200, 128), m.Latency(1, 200, 128).Round(time.Millisecond))
	// Output: 256 1.943s
}
