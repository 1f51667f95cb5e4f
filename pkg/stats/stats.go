// Package stats is the load report the queue sidecar and the activator serve
// and the scaler gathers.
package stats

// Report is served as JSON at pkg/queue.StatsPath. Its values are cumulative
// since the reporter started, so any number of scrapers can each take deltas
// over their own interval: average concurrency over an interval is
// Δ ConcurrencySeconds / Δt and the request rate is Δ Requests / Δt.
type Report struct {
	Revision  string `json:"revision"`  // namespace/name
	Pod       string `json:"pod"`       // pod (or activator) name
	StartUnix int64  `json:"startUnix"` // reporter start time; a change means the counters restarted

	InFlight           int64   `json:"inFlight"`           // requests in progress now (queued ones included)
	Requests           uint64  `json:"requests"`           // requests received; a sidecar leaves out those with CountedHeader
	ConcurrencySeconds float64 `json:"concurrencySeconds"` // integral of InFlight over time
}

// CountedHeader, with the value CountedHeaderValue, marks a request that the
// activator forwards to a pod after counting it in its own Report (it had
// to wait for a pod). The scaler sums the Requests of every source, so the
// queue sidecar leaves marked requests out of its Requests (they still count
// in its InFlight and ConcurrencySeconds, which the activator's report does
// not cover once the request has left it) and removes the header before the
// user container. The activator removes any copy a client sent, so that a
// caller cannot make its requests vanish from the rate.
const (
	CountedHeader      = "Csclr-Activator-Counted"
	CountedHeaderValue = "1"
)
