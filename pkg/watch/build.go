package watch

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

func (w *Watcher) currentHPA() *autoscalingv2.HorizontalPodAutoscaler {
	obj, ok, err := w.hpa.informer.GetStore().GetByKey(w.opts.Target.Namespace + "/" + w.opts.Target.HPA)
	if err != nil || !ok {
		return nil
	}
	h, _ := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	return h
}

// Snapshot builds a snapshot from the informer caches, the log buffer and the
// last metrics poll, and records it in the history. Call it from one
// goroutine at a time (Run does).
func (w *Watcher) Snapshot(now time.Time) Snapshot {
	t := w.opts.Target
	s := Snapshot{Time: now, Started: w.started, Context: w.opts.Context, Namespace: t.Namespace}

	s.HPAError = w.hpa.status()
	hpa := w.currentHPA()
	if hpa != nil {
		s.HPA = hpaInfo(hpa)
		s.Metrics = metricInfos(hpa)
	} else if s.HPAError == "" {
		s.HPAError = "HPA " + t.Namespace + "/" + t.HPA + " not found (deleted?)"
	}

	s.DeploymentError = w.deploy.status()
	if obj, ok, _ := w.deploy.informer.GetStore().GetByKey(t.Namespace + "/" + t.Deployment); ok {
		if d, _ := obj.(*appsv1.Deployment); d != nil {
			s.Deployment = &DeploymentInfo{Name: d.Name, Replicas: d.Status.Replicas, ReadyReplicas: d.Status.ReadyReplicas,
				UpdatedReplicas: d.Status.UpdatedReplicas, AvailableReplicas: d.Status.AvailableReplicas}
		}
	}

	s.PodsError = w.pods.status()
	s.Pods = podInfos(podsOf(w.pods))
	if w.adapter != nil {
		s.AdapterError = w.adapter.status()
		s.AdapterPods = podInfos(podsOf(w.adapter))
	} else {
		s.NoAdapter = NoAdapterReason
	}

	s.EventsError = firstNonEmpty(w.hpaEvents.status(), w.deployEvents.status())
	s.Events = w.events()
	if s.HPA != nil {
		for _, e := range s.Events {
			if e.Reason == "SuccessfulRescale" && e.Object == "HorizontalPodAutoscaler/"+t.HPA {
				s.HPA.LastScaleReason = e.Message
				break
			}
		}
	}

	w.metricsMu.Lock()
	for i := range s.Metrics {
		m := &s.Metrics[i]
		if vals, ok := w.metricVals[m.Name]; ok {
			m.PerPod = make(map[string]float64, len(vals))
			for k, v := range vals {
				m.PerPod[k] = v
			}
		}
		if e := w.metricErrs[m.Name]; e != "" && m.Error == "" {
			m.Error = e
		}
	}
	w.metricsMu.Unlock()

	s.Logs, s.LogsError = w.logs.snapshot()
	w.history.record(now, s.HPA, s.Metrics)
	s.History = w.history.snapshot()
	return s
}

func podsOf(p *panel) []*corev1.Pod {
	items := p.informer.GetStore().List()
	out := make([]*corev1.Pod, 0, len(items))
	for _, o := range items {
		if pod, ok := o.(*corev1.Pod); ok {
			out = append(out, pod)
		}
	}
	return out
}

// events merges the HPA's and the Deployment's events, newest first. The
// informers are already narrowed by field selector; the kind/name check and
// the UID de-duplication keep the result right even where a server (or a
// fake) ignores field selectors.
func (w *Watcher) events() []EventInfo {
	t := w.opts.Target
	want := map[string]bool{"HorizontalPodAutoscaler/" + t.HPA: true, "Deployment/" + t.Deployment: true}
	var out []EventInfo
	seen := map[string]bool{}
	for _, p := range []*panel{w.hpaEvents, w.deployEvents} {
		for _, o := range p.informer.GetStore().List() {
			if e, ok := o.(*corev1.Event); ok {
				if ei := eventInfo(e); want[ei.Object] && !seen[ei.UID] {
					seen[ei.UID] = true
					out = append(out, ei)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].UID > out[j].UID
	})
	if len(out) > w.opts.MaxEvents {
		out = out[:w.opts.MaxEvents]
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
