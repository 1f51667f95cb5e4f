package scaler

import "github.com/prometheus/client_golang/prometheus"

// metrics count the scale signals: what the scaler tells KEDA at once,
// outside KEDA's polling. They carry no revision label, as the activator's
// own metrics: thousands of revisions may be known.
type metrics struct {
	coldSignals prometheus.Counter // cold requests signalled (this replica's, peers' pokes)
	pushes      prometheus.Counter // "active" sent on a KEDA stream
	streams     prometheus.Gauge   // KEDA streams open on this replica
}

func newMetrics() metrics {
	return metrics{
		coldSignals: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "csclr", Subsystem: "scaler", Name: "cold_signals_total",
			Help: "Cold requests signalled to this scaler replica (its activator's own and its peers' pokes).",
		}),
		pushes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "csclr", Subsystem: "scaler", Name: "active_pushes_total",
			Help: `"Active" signals pushed to KEDA on its open streams, without waiting for its polling.`,
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "csclr", Subsystem: "scaler", Name: "keda_streams",
			Help: "KEDA StreamIsActive streams open on this replica (one per ScaledObject KEDA watches here).",
		}),
	}
}

// Collectors are the scaler's metrics, for the activator's registry.
func (s *Scaler) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.coldSignals, s.metrics.pushes, s.metrics.streams}
}
