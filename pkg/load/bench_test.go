package load_test

import (
	"context"
	"testing"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load"
	"github.com/infer-hpa/kubectl-infer-hpa/pkg/load/loadtest"
)

// BenchmarkRun is the generator in-process against the loopback fake
// server (which shares the CPU): b.N requests by 32 clients.
func BenchmarkRun(b *testing.B) {
	s := &loadtest.Server{FlushEach: true}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	o := load.Options{
		Stages:      []load.Stage{{Concurrency: 32, Duration: time.Hour}},
		MaxRequests: b.N,
		Workload:    &load.Workload{PromptTokens: load.Fixed(5), OutputTokens: load.Fixed(8)},
		Client:      &load.Client{HTTP: load.NewHTTPClient(32), Model: "fake-model"},
		Target:      load.URLTarget{E: load.Endpoint{Base: s.URL(), Name: "fake"}},
	}
	b.ResetTimer()
	began := time.Now()
	rep := load.Run(context.Background(), o)
	b.ReportMetric(float64(rep.Stages[0].OK)/time.Since(began).Seconds(), "req/s")
}
