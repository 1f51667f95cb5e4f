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
	Requests           uint64  `json:"requests"`           // requests received
	ConcurrencySeconds float64 `json:"concurrencySeconds"` // integral of InFlight over time
}
