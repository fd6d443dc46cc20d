package load_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load/loadtest"
)

func fake(t *testing.T, first, per time.Duration) *loadtest.Server {
	t.Helper()
	s := &loadtest.Server{FirstDelay: first, TokenDelay: per}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func options(s *loadtest.Server, chat bool, stages ...load.Stage) load.Options {
	return load.Options{
		Stages:   stages,
		Workload: &load.Workload{PromptTokens: load.Fixed(16), OutputTokens: load.Fixed(8)},
		Client:   &load.Client{HTTP: load.NewHTTPClient(64), Model: "fake-model", Chat: chat, Timeout: 10 * time.Second},
		Target:   load.URLTarget{E: load.Endpoint{Base: s.URL(), Name: "fake"}},
	}
}

// TestRunClosedLoop: the latencies measured are the server's delays, the
// stages follow one another, and the pause sends nothing.
func TestRunClosedLoop(t *testing.T) {
	s := fake(t, 20*time.Millisecond, 5*time.Millisecond)
	for _, chat := range []bool{false, true} {
		rep := load.Run(context.Background(), options(s, chat,
			load.Stage{Concurrency: 2, Duration: 500 * time.Millisecond},
			load.Stage{Concurrency: 0, Duration: 200 * time.Millisecond},
			load.Stage{Concurrency: 8, Duration: 500 * time.Millisecond}))
		if len(rep.Stages) != 3 || rep.Interrupted {
			t.Fatalf("chat=%v: %+v", chat, rep)
		}
		c2, pause, c8 := rep.Stages[0], rep.Stages[1], rep.Stages[2]
		if pause.Requests != 0 {
			t.Errorf("pause sent %d requests", pause.Requests)
		}
		// One request takes ≈ 20ms + 7×5ms = 55ms: c=2 for 0.5s ≈ 18, c=8 ≈ 72.
		if c2.OK < 8 || c2.OK > 20 || c8.OK < 3*c2.OK || c8.ErrorCount() != 0 {
			t.Errorf("chat=%v: ok c=2 %d, c=8 %d, errors %v", chat, c2.OK, c8.OK, c8.Errors)
		}
		for _, st := range []load.StageReport{c2, c8} {
			if st.TTFT.P50 < 20*time.Millisecond || st.TTFT.P50 > 40*time.Millisecond {
				t.Errorf("chat=%v %s: TTFT p50 %v, want ≈ 20ms", chat, st.Name, st.TTFT.P50)
			}
			if st.ITL.P50 < 5*time.Millisecond || st.ITL.P50 > 12*time.Millisecond || st.ITL.N != 7*st.OK {
				t.Errorf("chat=%v %s: ITL p50 %v over %d gaps, want ≈ 5ms over %d", chat, st.Name, st.ITL.P50, st.ITL.N, 7*st.OK)
			}
			if st.E2E.P50 < 55*time.Millisecond || st.E2E.P50 > 90*time.Millisecond || st.OutputTokens != 8*st.OK {
				t.Errorf("chat=%v %s: e2e p50 %v, tokens %d", chat, st.Name, st.E2E.P50, st.OutputTokens)
			}
		}
		var table bytes.Buffer
		if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "pause") || !strings.Contains(table.String(), "c=8") {
			t.Errorf("table:\n%s", table.String())
		}
	}
}

// TestRunMaxRequests stops after exactly that many requests.
func TestRunMaxRequests(t *testing.T) {
	s := fake(t, 0, 0)
	o := options(s, false, load.Stage{Concurrency: 7, Duration: time.Minute})
	o.MaxRequests = 50
	began := time.Now()
	rep := load.Run(context.Background(), o)
	if got := rep.Stages[0].Requests; got != 50 || s.Requests.Load() != 50 {
		t.Errorf("requests: report %d, server %d, want 50", got, s.Requests.Load())
	}
	if time.Since(began) > 10*time.Second {
		t.Errorf("took %s", time.Since(began))
	}
}

// TestRunInterrupted: cancelling (ctrl-c) ends the run at once with a
// partial report; requests cut short are not counted as errors.
func TestRunInterrupted(t *testing.T) {
	s := fake(t, 50*time.Millisecond, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	began := time.Now()
	rep := load.Run(ctx, options(s, false, load.Stage{Concurrency: 4, Duration: time.Minute}, load.Stage{Concurrency: 8, Duration: time.Minute}))
	if el := time.Since(began); el > 3*time.Second {
		t.Errorf("stopping took %s", el)
	}
	if !rep.Interrupted || len(rep.Stages) != 1 || rep.Stages[0].OK < 4 || rep.Stages[0].ErrorCount() != 0 {
		t.Errorf("report: %+v", rep)
	}
	var b bytes.Buffer
	_ = rep.WriteTable(&b)
	if !strings.HasPrefix(b.String(), "interrupted after") {
		t.Errorf("table does not say it is partial:\n%s", b.String())
	}
}

// TestRunOpenLoop: Poisson arrivals at the rate asked for.
func TestRunOpenLoop(t *testing.T) {
	s := fake(t, 0, time.Millisecond)
	rep := load.Run(context.Background(), options(s, false, load.Stage{Rate: 200, Duration: 2 * time.Second}))
	st := rep.Stages[0]
	// 400 expected; a Poisson count has sd 20, and the machine is busy.
	if st.Requests < 300 || st.Requests > 480 || st.ErrorCount() != 0 {
		t.Errorf("rate 200/s for 2s: %d requests, errors %v", st.Requests, st.Errors)
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Stages []struct {
			Rate float64 `json:"rate"`
			TTFT struct {
				P90 float64 `json:"p90"`
			} `json:"ttftSeconds"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || v.Stages[0].Rate != 200 || v.Stages[0].TTFT.P90 <= 0 {
		t.Errorf("json: %v %s", err, b.String())
	}
}

// TestRunErrors: HTTP errors and a dead endpoint are counted by kind.
func TestRunErrors(t *testing.T) {
	s := fake(t, 0, 0)
	o := options(s, false, load.Stage{Concurrency: 2, Duration: 300 * time.Millisecond})
	o.Client.Model = "other"
	st := load.Run(context.Background(), o).Stages[0]
	if st.OK != 0 || st.Errors["http-404"] != st.Requests || len(st.ErrorSamples) != 1 || !strings.Contains(st.ErrorSamples[0], "does not exist") {
		t.Errorf("404s: %+v", st)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	o = options(s, false, load.Stage{Concurrency: 2, Duration: 300 * time.Millisecond})
	o.Target = load.URLTarget{E: load.Endpoint{Base: dead.URL, Name: "dead"}}
	st = load.Run(context.Background(), o).Stages[0]
	if st.OK != 0 || st.Errors[load.KindConnect] == 0 {
		t.Errorf("dead endpoint: %+v", st)
	}
}

func TestModels(t *testing.T) {
	s := fake(t, 0, 0)
	hc := load.NewHTTPClient(1)
	ids, err := load.Models(context.Background(), hc, s.URL())
	if err != nil || len(ids) != 1 || ids[0] != "fake-model" {
		t.Fatalf("Models = %v, %v", ids, err)
	}
	if m, err := load.PickModel(ids, "", "x"); m != "fake-model" || err != nil {
		t.Errorf("PickModel default = %q, %v", m, err)
	}
	_, err = load.PickModel(ids, "llama", "http://x")
	if err == nil || !strings.Contains(err.Error(), `model "llama" is not served by http://x (it lists fake-model)`) {
		t.Errorf("PickModel unknown: %v", err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>hello</html>")) }))
	defer web.Close()
	for _, base := range []string{web.URL, web.URL + "/nope"} {
		_, err = load.Models(context.Background(), hc, base)
		if err == nil || !strings.Contains(err.Error(), "does not look like an OpenAI-compatible server") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Models(%s) = %v", base, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string]string{"http://127.0.0.1:8000": "http://127.0.0.1:8000", "http://h:1/v1/": "http://h:1", "https://h/api/v1": "https://h/api"} {
		if got, err := load.ParseURL(in); got != want || err != nil {
			t.Errorf("ParseURL(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"localhost:8000", "ftp://x", "http://"} {
		if _, err := load.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q): no error", in)
		}
	}
}
