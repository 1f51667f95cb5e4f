// Package deadline enforces a revision's request timeouts on the data path,
// as a response writer: a 504 when no response has started in time, a cut
// response when one goes idle. The queue sidecar counts them from the
// request's arrival at the pod, the activator from its arrival at the
// activator (the wait for a pod included).
//
// The timer never writes: it flips the state and cancels the request's
// context, and the serving goroutine writes the 504 once the inner steps
// (which all stop on cancellation) have returned. So the handler's header
// map and the connection are only ever touched by one goroutine at a time,
// and no per-request header copy is needed. Once a response has started it
// is never cut for being slow overall, only for being idle.
package deadline

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Timeouts are the revision's request deadlines.
type Timeouts struct {
	// FirstByte: a response must have started by then, or the caller gets a
	// 504 (min of timeoutSeconds and responseStartTimeoutSeconds).
	FirstByte time.Duration
	// Idle: no bytes for this long ends the request (504 before the response
	// started, an aborted response after). 0 = none.
	Idle time.Duration
}

// For derives the deadlines from a revision's timeoutSeconds,
// responseStartTimeoutSeconds and idleTimeoutSeconds (0: not set).
func For(timeout, responseStart, idle time.Duration) Timeouts {
	t := Timeouts{FirstByte: timeout, Idle: max(0, idle)}
	if responseStart > 0 && responseStart < t.FirstByte {
		t.FirstByte = responseStart
	}
	return t
}

// First is how long after the start the first deadline falls: the first
// byte's, or the idle timeout's if it is shorter (idleness counts from the
// start too).
func (t Timeouts) First() time.Duration {
	if t.Idle > 0 {
		return min(t.FirstByte, t.Idle)
	}
	return t.FirstByte
}

// Clock is the time source; tests inject a fake one.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of *time.Timer the deadlines use.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// Respond writes the 504 of a request that timed out before its response
// started; why says which deadline passed.
type Respond func(w http.ResponseWriter, why string)

// Handler is the chain step that applies t to the rest of the chain,
// counted from the request's arrival at this step.
func Handler(t Timeouts, clock Clock, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Serve(w, r, t, clock, clock.Now(), nil, next)
	})
}

// Serve runs next on the serving goroutine under t counted from start,
// checking the deadlines from one timer. respond writes the 504 (nil: a
// plain-text "gateway timeout").
func Serve(w http.ResponseWriter, r *http.Request, t Timeouts, clock Clock, start time.Time, respond Respond, next http.Handler) {
	if respond == nil {
		respond = gatewayTimeout
	}
	ctx, cancel := context.WithCancel(r.Context())
	tw := &writer{ResponseWriter: w, clock: clock, cancel: cancel, respond: respond,
		firstByteBy: start.Add(t.FirstByte), idle: t.Idle}
	tw.lastByte.Store(start.UnixNano())
	tw.timerMu.Lock() // the timer may fire before AfterFunc has returned
	tw.timer = clock.AfterFunc(start.Add(t.First()).Sub(clock.Now()), tw.onTimer)
	tw.timerMu.Unlock()
	defer tw.finish()
	next.ServeHTTP(tw, r.WithContext(ctx))
}

// The life of a response under Serve. Exactly one of the handler (starting
// the response) and the timer (timing it out) wins the move out of waiting;
// that compare-and-swap is the whole synchronisation.
const (
	waiting       int32 = iota // nothing sent yet
	started                    // status line committed; only idleness can end it
	timedOutStart              // no response in time: the 504 is sent by finish
	timedOutIdle               // no bytes in time before the start: 504
	abortedIdle                // no bytes in time after the start: cut
	hijacked                   // an upgrade took the connection; no timeouts
	finished                   // the handler returned
)

type writer struct {
	http.ResponseWriter // Header() is the real map: only the handler uses it until finish
	clock               Clock
	cancel              context.CancelFunc
	respond             Respond
	firstByteBy         time.Time
	idle                time.Duration

	state    atomic.Int32
	lastByte atomic.Int64 // unix nanos of the start, then of the last write

	timerMu sync.Mutex
	timer   Timer
}

// start moves waiting → started; false means a timeout (or a hijack) won.
func (tw *writer) start() bool {
	for {
		switch tw.state.Load() {
		case started:
			return true
		case waiting:
			if tw.state.CompareAndSwap(waiting, started) {
				return true
			}
		default:
			return false
		}
	}
}

func (tw *writer) touch() {
	if tw.idle > 0 {
		tw.lastByte.Store(tw.clock.Now().UnixNano())
	}
}

func (tw *writer) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational: the final response (maybe our 504) follows.
		if tw.state.Load() == waiting {
			tw.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if tw.state.Load() != waiting {
		return
	}
	tw.touch()
	if tw.start() {
		tw.ResponseWriter.WriteHeader(code)
	}
}

func (tw *writer) Write(p []byte) (int, error) {
	tw.touch()
	if !tw.start() {
		return 0, http.ErrHandlerTimeout
	}
	return tw.ResponseWriter.Write(p)
}

func (tw *writer) FlushError() error {
	if !tw.start() {
		return http.ErrHandlerTimeout
	}
	return http.NewResponseController(tw.ResponseWriter).Flush()
}

// Flush is for handlers that type-assert http.Flusher.
func (tw *writer) Flush() { _ = tw.FlushError() }

// Hijack hands the connection over (WebSocket and other upgrades); the
// revision's timeouts do not apply to what follows.
func (tw *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !tw.state.CompareAndSwap(waiting, hijacked) {
		return nil, nil, http.ErrHandlerTimeout
	}
	return http.NewResponseController(tw.ResponseWriter).Hijack()
}

// Unwrap gives http.ResponseController the rest (deadlines, full duplex).
func (tw *writer) Unwrap() http.ResponseWriter { return tw.ResponseWriter }

// onTimer runs on the timer's goroutine; one run at a time, since the next
// is only scheduled at its end.
func (tw *writer) onTimer() {
	now := tw.clock.Now()
	if tw.state.Load() == waiting {
		idleOver, idleLeft := tw.idleness(now)
		firstByteLeft := tw.firstByteBy.Sub(now)
		switch {
		case firstByteLeft <= 0:
			if tw.expire(waiting, timedOutStart) {
				return
			}
		case idleOver:
			if tw.expire(waiting, timedOutIdle) {
				return
			}
		default: // woke early
			if tw.idle > 0 {
				firstByteLeft = min(firstByteLeft, idleLeft)
			}
			tw.reset(firstByteLeft)
			return
		}
	}
	// Only a started response is still watched, and only for idleness. The
	// writer stamps lastByte before starting, so this reading is fresh.
	if tw.state.Load() != started || tw.idle <= 0 {
		return
	}
	if idleOver, idleLeft := tw.idleness(now); !idleOver {
		tw.reset(idleLeft)
	} else {
		tw.expire(started, abortedIdle)
	}
}

func (tw *writer) reset(d time.Duration) {
	tw.timerMu.Lock()
	tw.timer.Reset(d)
	tw.timerMu.Unlock()
}

func (tw *writer) idleness(now time.Time) (over bool, left time.Duration) {
	if tw.idle <= 0 {
		return false, 0
	}
	left = time.Unix(0, tw.lastByte.Load()).Add(tw.idle).Sub(now)
	return left <= 0, left
}

func (tw *writer) expire(from, to int32) bool {
	if tw.state.CompareAndSwap(from, to) {
		tw.cancel()
		return true
	}
	return false
}

// finish runs on the serving goroutine when the handler returns or panics:
// it settles the state for good, then sends the 504 or cuts the response.
func (tw *writer) finish() {
	tw.timerMu.Lock()
	tw.timer.Stop()
	tw.timerMu.Unlock()
	final := tw.state.Swap(finished)
	tw.cancel()

	if p := recover(); p != nil {
		// The proxy panics with ErrAbortHandler when its copy fails because
		// we cancelled it; after a timeout we still owe the caller a 504.
		if p != http.ErrAbortHandler || (final != timedOutStart && final != timedOutIdle) {
			panic(p)
		}
	}
	switch final {
	case timedOutStart:
		tw.respond(tw.ResponseWriter, "no response started in time")
	case timedOutIdle:
		tw.respond(tw.ResponseWriter, "no bytes from the container within the idle timeout")
	case abortedIdle:
		panic(http.ErrAbortHandler)
	}
}

// gatewayTimeout is the default Respond.
func gatewayTimeout(w http.ResponseWriter, why string) {
	PlainGatewayTimeout(w, "gateway timeout: "+why)
}

// PlainGatewayTimeout writes a 504 with msg as its plain-text body, after
// clearing whatever headers the abandoned inner steps set.
func PlainGatewayTimeout(w http.ResponseWriter, msg string) {
	h := w.Header()
	clear(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusGatewayTimeout)
	fmt.Fprintln(w, msg)
}
