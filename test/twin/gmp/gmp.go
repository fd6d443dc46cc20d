// Package gmp emulates Google Cloud Managed Service for Prometheus inside
// the local GKE twin: it watches PodMonitoring, ClusterPodMonitoring, Rules
// and ClusterRules, scrapes the selected pods through their loopback
// targets, attaches GMP's target labels, evaluates recording rules with the
// real PromQL engine and keeps everything in a Store that stands in for
// Cloud Monitoring. See docs/twin.md.
package gmp

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// Options shape the emulation.
type Options struct {
	// Project, Location and Cluster are the project_id, location and
	// cluster target labels (the twin's).
	Project, Location, Cluster string
	// IngestionDelay is how long a written point takes to become queryable
	// (Cloud Monitoring's lag; default 0 in tests, ~ tens of seconds on GKE).
	IngestionDelay time.Duration
	// Resync is how often targets and rule groups are recomputed (default 1s).
	Resync time.Duration
	// Resolve maps a pod's port to the loopback address that serves it
	// (twin.Twin.PodTarget). Pods are never dialled directly.
	Resolve func(namespace, pod string, port int32) (string, error)
	// Log receives one line per target/rule change and scrape error; nil discards.
	Log io.Writer
}

// Collector is a running emulation.
type Collector struct {
	Store *Store

	opts    Options
	dyn     dynamic.Interface
	client  kubernetes.Interface
	log     *log.Logger
	http    *http.Client
	pods    cache.SharedIndexInformer
	objs    map[schema.GroupVersionResource]cache.SharedIndexInformer
	mu      sync.Mutex
	loops   map[string]context.CancelFunc // target or rule-group key → its loop
	statusd map[string]int64              // object key → generation whose status was written
	cancel  context.CancelFunc
	done    sync.WaitGroup
}

// Start watches the cluster behind cfg and runs until Stop.
func Start(ctx context.Context, cfg *rest.Config, opts Options) (*Collector, error) {
	if opts.Resolve == nil {
		return nil, fmt.Errorf("gmp: Options.Resolve is required")
	}
	if opts.Resync == 0 {
		opts.Resync = time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Collector{
		Store: NewStore(opts.IngestionDelay), opts: opts, dyn: dyn, client: client,
		log:   log.New(opts.Log, "gmp: ", log.LstdFlags|log.Lmicroseconds),
		http:  &http.Client{Timeout: 10 * time.Second},
		objs:  map[schema.GroupVersionResource]cache.SharedIndexInformer{},
		loops: map[string]context.CancelFunc{}, statusd: map[string]int64{},
	}
	ctx, c.cancel = context.WithCancel(ctx)
	f := informers.NewSharedInformerFactory(client, 0)
	c.pods = f.Core().V1().Pods().Informer()
	df := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	synced := []cache.InformerSynced{c.pods.HasSynced}
	for _, gvr := range []schema.GroupVersionResource{PodMonitoringGVR, ClusterPodMonitoringGVR, RulesGVR, ClusterRulesGVR} {
		c.objs[gvr] = df.ForResource(gvr).Informer()
		synced = append(synced, c.objs[gvr].HasSynced)
	}
	f.Start(ctx.Done())
	df.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		c.cancel()
		return nil, fmt.Errorf("gmp: informers did not sync")
	}
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		t := time.NewTicker(opts.Resync)
		defer t.Stop()
		for {
			c.reconcile(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return c, nil
}

// Stop ends every scrape and rule loop.
func (c *Collector) Stop() {
	c.cancel()
	c.done.Wait()
}

// reconcile starts loops for new targets and rule groups and stops those
// that are gone.
func (c *Collector) reconcile(ctx context.Context) {
	want := map[string]func(context.Context){}
	for _, gvr := range []schema.GroupVersionResource{PodMonitoringGVR, ClusterPodMonitoringGVR} {
		for _, obj := range c.objs[gvr].GetStore().List() {
			u := obj.(*unstructured.Unstructured)
			targets, err := c.targets(u, gvr == ClusterPodMonitoringGVR)
			c.setStatus(ctx, gvr, u, err)
			for _, t := range targets {
				want["scrape|"+t.key()] = func(ctx context.Context) { c.scrapeLoop(ctx, t) }
			}
		}
	}
	for _, gvr := range []schema.GroupVersionResource{RulesGVR, ClusterRulesGVR} {
		for _, obj := range c.objs[gvr].GetStore().List() {
			u := obj.(*unstructured.Unstructured)
			groups, err := c.ruleGroups(u, gvr == ClusterRulesGVR)
			c.setStatus(ctx, gvr, u, err)
			for _, g := range groups {
				want["rules|"+g.key()] = func(ctx context.Context) { c.ruleLoop(ctx, g) }
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, stop := range c.loops {
		if _, ok := want[k]; !ok {
			stop()
			delete(c.loops, k)
			c.log.Printf("stopped %s", k)
		}
	}
	for k, run := range want {
		if _, ok := c.loops[k]; ok {
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		c.loops[k] = cancel
		c.log.Printf("started %s", k)
		c.done.Add(1)
		go func() { defer c.done.Done(); run(lctx) }()
	}
}

// setStatus writes the operator's ConfigurationCreateSuccess condition once
// per generation: True when the object was turned into a configuration,
// False with the reason otherwise.
func (c *Collector) setStatus(ctx context.Context, gvr schema.GroupVersionResource, u *unstructured.Unstructured, cfgErr error) {
	key := gvr.Resource + "/" + u.GetNamespace() + "/" + u.GetName() + "/" + string(u.GetUID())
	c.mu.Lock()
	done := c.statusd[key] == u.GetGeneration()
	c.mu.Unlock()
	if done {
		return
	}
	now := time.Now().UTC().Format(time.RFC3339)
	cond := map[string]any{"type": "ConfigurationCreateSuccess", "status": "True", "lastUpdateTime": now, "lastTransitionTime": now}
	if cfgErr != nil {
		cond["status"], cond["reason"], cond["message"] = "False", "InvalidConfiguration", cfgErr.Error()
	}
	obj := u.DeepCopy()
	_ = unstructured.SetNestedField(obj.Object, u.GetGeneration(), "status", "observedGeneration")
	_ = unstructured.SetNestedSlice(obj.Object, []any{cond}, "status", "conditions")
	var err error
	if u.GetNamespace() == "" {
		_, err = c.dyn.Resource(gvr).UpdateStatus(ctx, obj, metav1UpdateOptions)
	} else {
		_, err = c.dyn.Resource(gvr).Namespace(u.GetNamespace()).UpdateStatus(ctx, obj, metav1UpdateOptions)
	}
	if err != nil {
		c.log.Printf("status of %s: %v", key, err)
		return
	}
	c.mu.Lock()
	c.statusd[key] = u.GetGeneration()
	c.mu.Unlock()
}
