package twin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/adapter"
	"github.com/infer-hpa/kubectl-infer-hpa/test/twin/gmp"
)

// MetricsOptions shape the metrics pipeline: the Managed Prometheus
// emulation (package gmp) and the stand-in Stackdriver adapter (package
// adapter). See the README section "The twin's metrics pipeline".
type MetricsOptions struct {
	// IngestionDelay: a point becomes queryable this long after it was
	// scraped or recorded (Cloud Monitoring's lag).
	IngestionDelay time.Duration
	// AdapterWindow is how far back the adapter looks for a gauge's latest
	// point (default 5m); AdapterRateWindow the span of a counter's rate
	// (default 1m).
	AdapterWindow, AdapterRateWindow time.Duration
}

// Metrics is the running pipeline.
type Metrics struct {
	GMP     *gmp.Collector
	Adapter *adapter.Adapter
	log     *os.File
}

// Stop ends the adapter and the collector.
func (m *Metrics) Stop() {
	m.Adapter.Stop()
	m.GMP.Stop()
	m.log.Close()
}

// startMetrics starts the metrics pipeline when Options.Metrics is set. The
// adapter enforces Workload Identity against the local Google API server,
// so Options.GoogleAPI is required. It logs to logs/metrics.log.
func (t *Twin) startMetrics(ctx context.Context, logDir string) error {
	o := t.Options.Metrics
	if o == nil {
		return nil
	}
	if t.GoogleURL == "" {
		return errors.New("twin: the metrics pipeline needs the local Google API server (Options.GoogleAPI)")
	}
	f, err := os.OpenFile(filepath.Join(logDir, "metrics.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	m := &Metrics{log: f}
	ctx = context.WithoutCancel(ctx) // the pipeline lives until Stop, not until Start's deadline
	m.GMP, err = gmp.Start(ctx, t.Config, gmp.Options{
		Project: t.Options.Project, Location: t.Options.Location, Cluster: t.Options.Cluster,
		IngestionDelay: o.IngestionDelay, Resolve: t.PodTarget, Log: f,
	})
	if err != nil {
		f.Close()
		return fmt.Errorf("managed prometheus: %w", err)
	}
	m.Adapter, err = adapter.Start(ctx, adapter.Host{
		Client: t.Client, Kubeconfig: t.Kubeconfig, Dir: t.Dir,
		ForwardPodPort: t.ForwardPodPort, PodLogFile: t.PodLogFile, AppendLog: AppendLog,
	}, adapter.Options{
		Project: t.Options.Project, Location: t.Options.Location, Cluster: t.Options.Cluster,
		Store: m.GMP.Store, Identity: adapter.GCPFakeURL(t.GoogleURL),
		Window: o.AdapterWindow, RateWindow: o.AdapterRateWindow, Log: f,
	})
	if err != nil {
		m.GMP.Stop()
		f.Close()
		return fmt.Errorf("stand-in adapter: %w", err)
	}
	t.Metrics = m
	t.logf("metrics pipeline: Managed Prometheus emulation (ingestion delay %s) and stand-in adapter on %s", o.IngestionDelay, m.Adapter.Addr)
	return nil
}
