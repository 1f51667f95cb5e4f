package scaler

import (
	"time"

	"csclr.dev/csclr/pkg/stats"
)

// sample is the part of a source's last report needed to take deltas.
type sample struct {
	start    int64
	requests uint64
	concSec  float64
	at       time.Time
}

// load turns a source's report into its load over the interval since its
// previous report: average concurrency (Δ concurrency-seconds / Δt) or
// request rate (Δ requests / Δt). The counters are cumulative since the
// reporter started, so a changed start time, or a counter going backwards,
// means the reporter restarted: its counters are then counted from zero at
// its start (or at the previous scrape, whichever is later). A source seen
// for the first time has no interval yet; its in-flight count stands in for
// its concurrency.
func load(prev *sample, r stats.Report, now time.Time, metric string) (float64, sample) {
	next := sample{start: r.StartUnix, requests: r.Requests, concSec: r.ConcurrencySeconds, at: now}
	if prev == nil {
		if metric == MetricConcurrency {
			return float64(r.InFlight), next
		}
		return 0, next
	}
	base := *prev
	if r.StartUnix != prev.start || r.Requests < prev.requests || r.ConcurrencySeconds < prev.concSec {
		base = sample{at: prev.at}
		if started := time.Unix(r.StartUnix, 0); started.After(base.at) {
			base.at = started
		}
	}
	dt := now.Sub(base.at).Seconds()
	if dt <= 0 {
		if metric == MetricConcurrency {
			return float64(r.InFlight), next
		}
		return 0, next
	}
	if metric == MetricRPS {
		return float64(r.Requests-base.requests) / dt, next
	}
	return (r.ConcurrencySeconds - base.concSec) / dt, next
}

// keepMissedSource is how long a source that stopped answering keeps its
// baseline.
const keepMissedSource = 10 * time.Second

// observation is one gathering round's reports for one revision.
type observation struct {
	pods       map[string]stats.Report // by pod IP, ready pods that answered
	readyPods  int                     // ready pods, answering or not
	activators map[string]stats.Report // by activator IP
}

// Observe folds one gathering round into the revision's window: the sum of
// every source's load becomes the value of the current second.
func (s *Scaler) Observe(rev Key, o observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.revs[rev]
	if r == nil {
		return // forgotten meanwhile
	}
	now := s.clock.Now()
	seen := make(map[string]sample, len(o.pods)+len(o.activators))
	var total float64
	var inFlight int64
	add := func(key string, rep stats.Report) {
		var prev *sample
		if p, ok := r.sources[key]; ok {
			prev = &p
		}
		v, next := load(prev, rep, now, r.spec.Metric)
		total += v
		inFlight += rep.InFlight
		seen[key] = next
	}
	for ip, rep := range o.pods {
		add("pod/"+ip, rep)
	}
	for ip, rep := range o.activators {
		add("activator/"+ip, rep)
	}
	for key, p := range r.sources {
		// A source that missed one round keeps its baseline, so that its
		// next answer is a delta rather than a fresh start.
		if _, ok := seen[key]; !ok && now.Sub(p.at) < keepMissedSource {
			seen[key] = p
		}
	}
	r.sources = seen
	r.readyPods = o.readyPods
	r.inFlight = inFlight
	if r.win.seen(now) == 0 {
		r.whole = o.readyPods == 0 // see revision.whole
	}
	r.win.record(now, total)
	select {
	case <-r.gathered:
	default:
		close(r.gathered)
	}
}
