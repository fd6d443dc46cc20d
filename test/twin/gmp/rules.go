package gmp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ruleGroup is one group of recording rules, already scoped.
type ruleGroup struct {
	owner    string // kind/namespace/name
	name     string
	interval time.Duration
	rules    []recordingRule
}

type recordingRule struct {
	record string
	expr   string        // scoped expression
	labels labels.Labels // rule labels plus the scope labels
}

func (g *ruleGroup) key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s", g.owner, g.name, g.interval)
	for _, r := range g.rules {
		fmt.Fprintf(&b, "|%s=%s%s", r.record, r.expr, r.labels)
	}
	return b.String()
}

// ruleGroups turns a Rules (cluster false) or ClusterRules object into
// scoped groups as GMP's operator does: every selector of a Rules object is
// restricted to its project, location, cluster and namespace, those of a
// ClusterRules object to its project, location and cluster, and the results
// carry the same labels.
func (c *Collector) ruleGroups(u *unstructured.Unstructured, cluster bool) ([]*ruleGroup, error) {
	var spec rulesSpec
	if err := decodeSpec(u, &spec); err != nil {
		return nil, err
	}
	scope := labels.NewBuilder(labels.EmptyLabels())
	scope.Set("project_id", c.opts.Project)
	scope.Set("location", c.opts.Location)
	scope.Set("cluster", c.opts.Cluster)
	if !cluster {
		scope.Set("namespace", u.GetNamespace())
	}
	scopeLabels := scope.Labels()
	p := parser.NewParser(parser.Options{})
	var out []*ruleGroup
	for gi, g := range spec.Groups {
		interval, err := duration(g.Interval, time.Minute)
		if err != nil {
			return nil, fmt.Errorf("groups[%d].interval: %w", gi, err)
		}
		rg := &ruleGroup{owner: u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName(), name: g.Name, interval: interval}
		for ri, r := range g.Rules {
			if r.Record == "" {
				continue // alerting rules: no alertmanager in the twin
			}
			expr, err := p.ParseExpr(r.Expr)
			if err != nil {
				return nil, fmt.Errorf("groups[%d].rules[%d].expr: %w", gi, ri, err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					scopeLabels.Range(func(l labels.Label) {
						vs.LabelMatchers = append(vs.LabelMatchers, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value))
					})
				}
				return nil
			})
			lb := labels.NewBuilder(labels.FromMap(r.Labels))
			scopeLabels.Range(func(l labels.Label) { lb.Set(l.Name, l.Value) })
			rg.rules = append(rg.rules, recordingRule{record: r.Record, expr: expr.String(), labels: lb.Labels()})
		}
		out = append(out, rg)
	}
	return out, nil
}

// ruleLoop evaluates a group at its interval and writes the results back.
func (c *Collector) ruleLoop(ctx context.Context, g *ruleGroup) {
	engine := newEngine()
	tick := time.NewTicker(g.interval)
	defer tick.Stop()
	lastErr := map[string]string{}
	for {
		now := time.Now()
		for _, r := range g.rules {
			err := c.evalRule(ctx, engine, r, now)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if msg != lastErr[r.record] && err != nil {
				c.log.Printf("rule %s %s: %v", g.owner, r.record, err)
			}
			lastErr[r.record] = msg
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// newEngine is a PromQL engine with Prometheus's defaults (5m lookback).
func newEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{MaxSamples: 5_000_000, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute})
}

func (c *Collector) evalRule(ctx context.Context, engine *promql.Engine, r recordingRule, now time.Time) error {
	q, err := engine.NewInstantQuery(ctx, c.Store, nil, r.expr, now)
	if err != nil {
		return err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return res.Err
	}
	vec, err := res.Vector()
	if err != nil {
		return err
	}
	for _, s := range vec {
		lb := labels.NewBuilder(s.Metric)
		lb.Set(model.MetricNameLabel, r.record)
		r.labels.Range(func(l labels.Label) { lb.Set(l.Name, l.Value) })
		c.Store.Append(lb.Labels(), Gauge, now.UnixMilli(), s.F)
	}
	return nil
}
