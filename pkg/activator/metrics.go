package activator

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the activator's Prometheus metrics. They carry no revision
// label: the activator may know thousands of revisions, and per-revision
// load is the scaler's business.
type Metrics struct {
	requests   *prometheus.CounterVec
	latency    prometheus.Histogram
	inFlight   prometheus.Gauge
	coldStarts prometheus.Counter
	codes      [6]prometheus.Counter // by status class, resolved once
}

// NewMetrics registers the metrics with reg. held reports the requests
// currently held for a pod (the queue depth).
func NewMetrics(reg prometheus.Registerer, held func() int) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "csclr", Subsystem: "activator", Name: "requests_total", Help: "Requests answered, by status class.",
		}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "csclr", Subsystem: "activator", Name: "request_duration_seconds", Help: "Time to answer a request, held time included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "csclr", Subsystem: "activator", Name: "requests_in_flight", Help: "Requests in progress.",
		}),
		coldStarts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "csclr", Subsystem: "activator", Name: "cold_requests_total", Help: "Requests that found their revision without a ready pod (each signals the scaler).",
		}),
	}
	queueDepth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "csclr", Subsystem: "activator", Name: "held_requests", Help: "Requests waiting for a pod slot.",
	}, func() float64 { return float64(held()) })
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.inFlight, m.coldStarts, queueDepth} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for i := range m.codes {
		m.codes[i] = m.requests.WithLabelValues(strconv.Itoa(i) + "xx")
	}
	return m, nil
}

func (m *Metrics) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		next.ServeHTTP(w, r)
		m.inFlight.Dec()
		x := exchangeOf(r.Context())
		m.latency.Observe(time.Since(x.start).Seconds())
		if class := x.code() / 100; class >= 1 && class <= 5 {
			m.codes[class].Inc()
		}
	})
}
