package stats

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Reporter keeps the counters of one Report. Begin and End bracket every
// request (queued time included); Report may be called at any time by any
// number of scrapers. It is safe for concurrent use.
type Reporter struct {
	now      func() time.Time
	revision string
	pod      string
	start    time.Time

	mu         sync.Mutex
	inFlight   int64
	requests   uint64
	integral   float64 // concurrency-seconds up to lastChange
	lastChange time.Time
}

// NewReporter starts the counters at now(). now is injected so that tests
// can check the integral exactly; production passes time.Now.
func NewReporter(revision, pod string, now func() time.Time) *Reporter {
	t := now()
	return &Reporter{now: now, revision: revision, pod: pod, start: t, lastChange: t}
}

// Begin records a request entering the pod.
func (r *Reporter) Begin() { r.begin(1) }

// BeginCounted records a request entering the pod that another source has
// already counted in its Requests (the activator, see CountedHeader): it is
// in flight here, but not a new request for the rate.
func (r *Reporter) BeginCounted() { r.begin(0) }

func (r *Reporter) begin(requests uint64) {
	t := r.now()
	r.mu.Lock()
	r.advance(t)
	r.inFlight++
	r.requests += requests
	r.mu.Unlock()
}

// End records a request leaving the pod (answered, failed or abandoned).
func (r *Reporter) End() {
	t := r.now()
	r.mu.Lock()
	r.advance(t)
	r.inFlight--
	r.mu.Unlock()
}

// advance adds the area under the in-flight curve since the last change.
// Callers hold r.mu.
func (r *Reporter) advance(t time.Time) {
	if d := t.Sub(r.lastChange); d > 0 {
		r.integral += float64(r.inFlight) * d.Seconds()
		r.lastChange = t
	}
}

// InFlight is the number of requests in progress now.
func (r *Reporter) InFlight() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight
}

// Report is a snapshot whose integral runs up to now.
func (r *Reporter) Report() Report {
	t := r.now()
	r.mu.Lock()
	r.advance(t)
	rep := Report{
		Revision:           r.revision,
		Pod:                r.pod,
		StartUnix:          r.start.Unix(),
		InFlight:           r.inFlight,
		Requests:           r.requests,
		ConcurrencySeconds: r.integral,
	}
	r.mu.Unlock()
	return rep
}

// Handler serves the reporter's snapshot as JSON.
func Handler(r *Reporter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(r.Report())
	})
}
