package queue

import (
	"net/http"
	"sync/atomic"
)

// Readiness is the pod's answer to "may I send you requests?": the user
// container passed its probe and the sidecar is not draining.
type Readiness struct {
	probed   atomic.Bool
	draining atomic.Bool
}

// Ready reports whether new requests are welcome.
func (r *Readiness) Ready() bool { return r.probed.Load() && !r.draining.Load() }

// SetProbed records the latest verdict of the user container's probe.
func (r *Readiness) SetProbed(ok bool) { r.probed.Store(ok) }

// StartDraining makes the pod not ready for good.
func (r *Readiness) StartDraining() { r.draining.Store(true) }

// Draining reports whether StartDraining was called.
func (r *Readiness) Draining() bool { return r.draining.Load() }

// ServeHTTP answers the kubelet's probe on the admin port.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	writeReadiness(w, r.Ready())
}

func writeReadiness(w http.ResponseWriter, ready bool) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte(ProbeHeaderValue))
}

// answerNetworkProbes is the chain step that answers a request carrying
// "K-Network-Probe: queue" itself (the activator probes new pods this way),
// so a probe never reaches the user container or the load report.
func answerNetworkProbes(ready *Readiness, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header[ProbeHeader]; len(v) > 0 && v[0] == ProbeHeaderValue {
			writeReadiness(w, ready.Ready())
			return
		}
		next.ServeHTTP(w, r)
	})
}
