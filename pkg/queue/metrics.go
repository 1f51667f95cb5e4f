package queue

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"csclr.dev/csclr/pkg/stats"
)

// Metrics are the sidecar's Prometheus metrics, in a registry of their own.
type Metrics struct {
	registry *prometheus.Registry
	byClass  [6]prometheus.Counter // index status/100; 0 = no status
	latency  prometheus.Histogram
}

// NewMetrics registers the request metrics plus gauges read from the load
// report and the breaker (nil when concurrency is unlimited).
func NewMetrics(cfg Config, report *stats.Reporter, breaker *Breaker) *Metrics {
	labels := prometheus.Labels{
		"namespace": cfg.Namespace, "service": cfg.Service,
		"configuration": cfg.Configuration, "revision": cfg.Revision,
	}
	m := &Metrics{registry: prometheus.NewRegistry()}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "csclr_queue_requests_total", Help: "Requests answered, by status code class.", ConstLabels: labels,
	}, []string{"code_class"})
	for i, class := range []string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		m.byClass[i] = requests.WithLabelValues(class)
	}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "csclr_queue_request_duration_seconds", Help: "Time from request arrival (queueing included) to the end of the response.",
		ConstLabels: labels, Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "csclr_queue_in_flight_requests", Help: "Requests in the pod now, queued ones included.", ConstLabels: labels,
	}, func() float64 { return float64(report.InFlight()) })
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "csclr_queue_depth", Help: "Requests waiting for a containerConcurrency slot.", ConstLabels: labels,
	}, func() float64 {
		if breaker == nil {
			return 0
		}
		return float64(breaker.Waiting())
	})
	m.registry.MustRegister(requests, m.latency, inFlight, depth,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observe(status int, elapsed time.Duration) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	m.byClass[class].Inc()
	m.latency.Observe(elapsed.Seconds())
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
