package activator

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/utils/clock"
)

// timeouts are a revision's request deadlines.
type timeouts struct {
	firstByte time.Duration // a response must start this long after the request's arrival
	idle      time.Duration // no bytes for this long ends the request; 0 = none
}

// admit finds the request's revision state (created on first use, which
// may ask the API server), keeps it from Sweep while the request is here,
// and applies the revision's timeouts to the rest of the request, counted
// from its arrival. The wait for a pod counts against them, as in Knative's
// activator: the queue sidecar starts its own clocks only when the request
// reaches the pod, so without this a caller could wait timeoutSeconds for a
// pod and then timeoutSeconds again for the answer.
//
// The timer never writes: it flips the state and cancels the request's
// context, and the serving goroutine sends the 504 once the inner steps
// (which all stop on cancellation) have returned, so that only one
// goroutine at a time touches the response. Once a response has started it
// is only ever cut for being idle.
func admit(b *Balancer, clk clock.WithDelayedExecution, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r.Context())
		s := b.use(x.target.Revision)
		defer s.leave()
		t := s.timeouts()
		ctx, cancel := context.WithCancel(r.Context())
		a := &admission{ResponseWriter: w, x: x, rev: s, clock: clk, cancel: cancel,
			respondBy: x.start.Add(t.firstByte), idle: t.idle}
		if t.idle > 0 && t.idle < t.firstByte {
			a.respondBy = x.start.Add(t.idle) // idleness counts from the arrival
		}
		a.lastByte.Store(x.start.UnixNano())
		a.timerMu.Lock()
		a.timer = clk.AfterFunc(a.respondBy.Sub(clk.Now()), a.onTimer)
		a.timerMu.Unlock()
		defer a.finish()
		next.ServeHTTP(a, r.WithContext(context.WithValue(ctx, admissionKey{}, a)))
	})
}

// The life of a response under admit. Exactly one of the handler (starting
// the response) and the timer (timing it out) wins the move out of waiting.
const (
	waiting  int32 = iota // nothing sent yet
	started               // status line committed; only idleness can end it
	timedOut              // no response in time: finish sends the 504
	aborted               // no bytes for the idle timeout after the start: cut
	hijacked              // an upgrade took the connection; no timeouts
	finished              // the handler returned
)

// admission is one request's claim on its revision and the response writer
// that enforces the revision's timeouts.
type admission struct {
	http.ResponseWriter
	x         *exchange
	rev       *revState
	clock     clock.WithDelayedExecution
	cancel    context.CancelFunc
	respondBy time.Time // a response must have started by then
	idle      time.Duration

	state    atomic.Int32
	lastByte atomic.Int64 // unix nanos of the arrival, then of the last write

	timerMu sync.Mutex // the timer may fire before AfterFunc has returned
	timer   clock.Timer
}

type admissionKey struct{}

func admissionOf(ctx context.Context) *admission {
	a, _ := ctx.Value(admissionKey{}).(*admission)
	return a
}

// start moves waiting → started; false means a timeout (or hijack) won.
func (a *admission) start() bool {
	return a.state.CompareAndSwap(waiting, started) || a.state.Load() == started
}

func (a *admission) touch() {
	if a.idle > 0 {
		a.lastByte.Store(a.clock.Now().UnixNano())
	}
}

func (a *admission) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational: the final response (maybe our 504) follows.
		if a.state.Load() == waiting {
			a.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if a.state.Load() != waiting {
		return
	}
	a.touch()
	if a.start() {
		a.ResponseWriter.WriteHeader(code)
	}
}

func (a *admission) Write(p []byte) (int, error) {
	a.touch()
	if !a.start() {
		return 0, http.ErrHandlerTimeout
	}
	return a.ResponseWriter.Write(p)
}

func (a *admission) FlushError() error {
	if !a.start() {
		return http.ErrHandlerTimeout
	}
	return http.NewResponseController(a.ResponseWriter).Flush()
}

// Flush is for handlers that type-assert http.Flusher.
func (a *admission) Flush() { _ = a.FlushError() }

// Hijack hands the connection over (WebSocket and other upgrades); the
// revision's timeouts do not apply to what follows.
func (a *admission) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !a.state.CompareAndSwap(waiting, hijacked) {
		return nil, nil, http.ErrHandlerTimeout
	}
	return http.NewResponseController(a.ResponseWriter).Hijack()
}

// Unwrap gives http.ResponseController the rest (deadlines, full duplex).
func (a *admission) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// onTimer runs on the timer's goroutine; one run at a time, since the next
// is only scheduled at its end.
func (a *admission) onTimer() {
	now := a.clock.Now()
	switch a.state.Load() {
	case waiting:
		if left := a.respondBy.Sub(now); left > 0 { // woke early
			a.reset(left)
			return
		}
		if a.expire(waiting, timedOut) {
			return
		}
		fallthrough // the response started meanwhile
	case started:
		if a.idle <= 0 {
			return
		}
		// The writer stamps lastByte before starting, so this is fresh.
		if left := time.Unix(0, a.lastByte.Load()).Add(a.idle).Sub(now); left > 0 {
			a.reset(left)
		} else {
			a.expire(started, aborted)
		}
	}
}

func (a *admission) reset(d time.Duration) {
	a.timerMu.Lock()
	a.timer.Reset(d)
	a.timerMu.Unlock()
}

func (a *admission) expire(from, to int32) bool {
	if a.state.CompareAndSwap(from, to) {
		a.cancel()
		return true
	}
	return false
}

// finish runs on the serving goroutine when the rest of the chain returns
// or panics: it settles the state for good, then sends the 504 or cuts the
// response.
func (a *admission) finish() {
	a.timerMu.Lock()
	a.timer.Stop()
	a.timerMu.Unlock()
	final := a.state.Swap(finished)
	a.cancel()
	if p := recover(); p != nil {
		// The proxy panics with ErrAbortHandler when a copy fails because
		// we cancelled it; after a timeout we still owe the caller a 504.
		if p != http.ErrAbortHandler || final != timedOut {
			panic(p)
		}
	}
	switch final {
	case timedOut:
		// The inner steps took the cancellation for a client that left.
		a.x.status = 0
		h := a.ResponseWriter.Header()
		clear(h) // what the abandoned inner steps put there; no outer step sets any
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		a.ResponseWriter.WriteHeader(http.StatusGatewayTimeout)
		fmt.Fprintf(a.ResponseWriter, "revision %s: no response started within the revision's timeout\n", a.x.target.Revision)
	case aborted:
		panic(http.ErrAbortHandler)
	}
}
