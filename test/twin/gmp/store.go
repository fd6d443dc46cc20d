package gmp

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// Kind is a series' Cloud Monitoring metric kind suffix as Managed
// Prometheus names it: prometheus.googleapis.com/NAME/KIND.
type Kind string

// Kinds of the series the store keeps (histograms and summaries are stored
// as their _bucket/_sum/_count/quantile series of kind unknown).
const (
	Gauge   Kind = "gauge"
	Counter Kind = "counter"
	Unknown Kind = "unknown"
)

// Store is an in-memory time-series store standing in for Cloud Monitoring:
// a point becomes visible to queries Delay after it was written (Cloud
// Monitoring's ingestion lag). It is a storage.Queryable for the PromQL
// engine and answers the adapter's filtered reads. Safe for concurrent use.
type Store struct {
	// Delay is how long after ingestion a point becomes queryable.
	Delay time.Duration
	// Retention drops points older than this (default 30m).
	Retention time.Duration

	mu     sync.RWMutex
	series map[uint64]*memSeries
	now    func() time.Time
	// held drops every write (an outage of the write path, see Outage).
	held bool
}

type memSeries struct {
	lset labels.Labels
	kind Kind
	pts  []point
}

type point struct {
	t       int64 // sample time, ms
	v       float64
	visible time.Time // when a query may see it
}

// NewStore returns an empty store with the given ingestion delay.
func NewStore(delay time.Duration) *Store {
	return &Store{Delay: delay, Retention: 30 * time.Minute, series: map[uint64]*memSeries{}, now: time.Now}
}

// Append adds a point. Points older than the series' newest are dropped, as
// Cloud Monitoring rejects out-of-order writes.
func (s *Store) Append(lset labels.Labels, kind Kind, t int64, v float64) {
	h := lset.Hash()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		return
	}
	ms := s.series[h]
	if ms == nil {
		ms = &memSeries{lset: lset, kind: kind}
		s.series[h] = ms
	}
	if n := len(ms.pts); n > 0 && ms.pts[n-1].t >= t {
		return
	}
	ms.pts = append(ms.pts, point{t: t, v: v, visible: now.Add(s.Delay)})
	cut := now.Add(-s.Retention).UnixMilli()
	if len(ms.pts) > 64 && ms.pts[0].t < cut {
		i, _ := slices.BinarySearchFunc(ms.pts, cut, func(p point, c int64) int { return int(p.t - c) })
		ms.pts = slices.Clone(ms.pts[i:])
	}
}

// Outage simulates Managed Prometheus writing nothing to Cloud Monitoring
// for the duration age, ending now: every stored point moves age into the
// past and writes are dropped until Resume. It makes the data as stale as
// a real outage of that length without waiting for it.
func (s *Store) Outage(age time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = true
	for _, ms := range s.series {
		for i := range ms.pts {
			ms.pts[i].t -= age.Milliseconds()
			ms.pts[i].visible = ms.pts[i].visible.Add(-age)
		}
	}
}

// Resume ends an Outage: writes are kept again.
func (s *Store) Resume() {
	s.mu.Lock()
	s.held = false
	s.mu.Unlock()
}

// Sample is a visible point of one series.
type Sample struct {
	Labels labels.Labels
	Kind   Kind
	T      time.Time
	V      float64
}

// Series is a visible series with its points in [from, to].
type Series struct {
	Labels labels.Labels
	Kind   Kind
	Points []Sample
}

// Select returns the visible series matching all matchers with their
// points in [from, to], sorted by labels.
func (s *Store) Select(from, to time.Time, ms ...*labels.Matcher) []Series {
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Series
	for _, m := range s.series {
		if !matches(m.lset, ms) {
			continue
		}
		sr := Series{Labels: m.lset, Kind: m.kind}
		for _, p := range m.pts {
			if p.t >= from.UnixMilli() && p.t <= to.UnixMilli() && !p.visible.After(now) {
				sr.Points = append(sr.Points, Sample{Labels: m.lset, Kind: m.kind, T: time.UnixMilli(p.t), V: p.v})
			}
		}
		if len(sr.Points) > 0 {
			out = append(out, sr)
		}
	}
	slices.SortFunc(out, func(a, b Series) int { return labels.Compare(a.Labels, b.Labels) })
	return out
}

func matches(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Querier implements storage.Queryable for the PromQL engine.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{s: s, mint: mint, maxt: maxt}, nil
}

type querier struct {
	s          *Store
	mint, maxt int64
}

func (q *querier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var set []storage.Series
	for _, sr := range q.s.Select(time.UnixMilli(q.mint), time.UnixMilli(q.maxt), ms...) {
		samples := make([]chunks.Sample, len(sr.Points))
		for i, p := range sr.Points {
			samples[i] = fSample{t: p.T.UnixMilli(), f: p.V}
		}
		set = append(set, storage.NewListSeries(sr.Labels, samples))
	}
	return &seriesSet{list: set, i: -1}
}

func (q *querier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	for _, sr := range q.s.Select(time.UnixMilli(q.mint), time.UnixMilli(q.maxt), ms...) {
		if v := sr.Labels.Get(name); v != "" {
			seen[v] = true
		}
	}
	return sortedKeys(seen), nil, nil
}

func (q *querier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]bool{}
	for _, sr := range q.s.Select(time.UnixMilli(q.mint), time.UnixMilli(q.maxt), ms...) {
		sr.Labels.Range(func(l labels.Label) { seen[l.Name] = true })
	}
	return sortedKeys(seen), nil, nil
}

func (q *querier) Close() error { return nil }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type seriesSet struct {
	list []storage.Series
	i    int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *seriesSet) At() storage.Series                { return s.list[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// fSample is a float sample for storage.NewListSeries.
type fSample struct {
	t int64
	f float64
}

func (s fSample) T() int64                      { return s.t }
func (s fSample) ST() int64                     { return 0 }
func (s fSample) F() float64                    { return s.f }
func (s fSample) H() *histogram.Histogram       { return nil }
func (s fSample) FH() *histogram.FloatHistogram { return nil }
func (s fSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fSample) Copy() chunks.Sample           { return s }
