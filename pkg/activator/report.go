package activator

import (
	"encoding/json"
	"net/http"
)

// ReportHandler serves the activator's held-request reports as JSON (the
// scaler's gatherers read it at scaler.ActivatorStatsPath on the metrics
// port).
func ReportHandler(b *Balancer, podName string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Reports(podName))
	})
}
