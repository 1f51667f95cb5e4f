package queue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
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

// TimeoutsFor derives the deadlines from the config.
func TimeoutsFor(c Config) Timeouts {
	t := Timeouts{FirstByte: c.Timeout, Idle: c.IdleTimeout}
	if c.ResponseStartTimeout > 0 && c.ResponseStartTimeout < t.FirstByte {
		t.FirstByte = c.ResponseStartTimeout
	}
	return t
}

// enforceTimeouts is the chain step for the revision's timeouts. It runs the
// rest of the chain on the serving goroutine and checks deadlines from one
// timer, so a request costs no extra goroutine. Once a response has started
// it is never cut for being slow overall, only for being idle.
func enforceTimeouts(t Timeouts, clock Clock, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		now := clock.Now()
		tw := &timeoutWriter{
			w: w, header: make(http.Header), clock: clock, cancel: cancel,
			firstByteBy: now.Add(t.FirstByte), idle: t.Idle, lastByte: now,
		}
		first := t.FirstByte
		if t.Idle > 0 {
			first = min(first, t.Idle)
		}
		tw.mu.Lock()
		tw.timer = clock.AfterFunc(first, tw.onTimer)
		tw.mu.Unlock()

		defer tw.finish()
		next.ServeHTTP(tw, r.WithContext(ctx))
	})
}

// timeoutWriter lets the handler goroutine and the timer race safely: all
// writes to the real ResponseWriter happen under mu, and the handler writes
// headers into its own map until the response starts, so the timer can send
// a 504 without touching a map the handler is filling.
type timeoutWriter struct {
	w      http.ResponseWriter
	header http.Header // the handler's headers until the response starts
	clock  Clock
	cancel context.CancelFunc

	firstByteBy time.Time
	idle        time.Duration

	mu       sync.Mutex
	timer    Timer
	lastByte time.Time // request start, then the last write
	started  bool      // status line committed
	hijacked bool
	done     bool // the handler returned
	timedOut bool // a 504 was sent; later writes are refused
	aborted  bool // idle after the start: the response must be cut
}

func (tw *timeoutWriter) Header() http.Header {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.started {
		// Trailers are set after the body; the timer no longer writes.
		return tw.w.Header()
	}
	return tw.header
}

func (tw *timeoutWriter) WriteHeader(code int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.writeHeaderLocked(code)
}

func (tw *timeoutWriter) writeHeaderLocked(code int) {
	if tw.timedOut || tw.aborted || tw.started {
		return
	}
	copyHeader(tw.w.Header(), tw.header)
	tw.w.WriteHeader(code)
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational: the final response comes later with its own headers.
		clear(tw.header)
		clear(tw.w.Header())
		return
	}
	tw.started = true
	tw.touchLocked()
}

func (tw *timeoutWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.aborted {
		return 0, http.ErrHandlerTimeout
	}
	if !tw.started {
		tw.writeHeaderLocked(http.StatusOK)
	}
	tw.touchLocked()
	return tw.w.Write(p)
}

func (tw *timeoutWriter) touchLocked() {
	if tw.idle > 0 {
		tw.lastByte = tw.clock.Now()
	}
}

func (tw *timeoutWriter) FlushError() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.aborted {
		return http.ErrHandlerTimeout
	}
	if !tw.started {
		tw.writeHeaderLocked(http.StatusOK)
	}
	return http.NewResponseController(tw.w).Flush()
}

// Hijack hands the connection over (WebSocket upgrades); the revision's
// timeouts do not apply to what follows.
func (tw *timeoutWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut || tw.aborted {
		return nil, nil, http.ErrHandlerTimeout
	}
	conn, rw, err := http.NewResponseController(tw.w).Hijack()
	if err == nil {
		tw.hijacked = true
		tw.timer.Stop()
	}
	return conn, rw, err
}

// Unwrap gives http.ResponseController the rest (deadlines, full duplex).
func (tw *timeoutWriter) Unwrap() http.ResponseWriter { return tw.w }

func (tw *timeoutWriter) onTimer() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.done || tw.hijacked || tw.timedOut || tw.aborted {
		return
	}
	now := tw.clock.Now()
	next := time.Duration(-1)
	if !tw.started {
		if !now.Before(tw.firstByteBy) {
			tw.timeOutLocked("no response started in time")
			return
		}
		next = tw.firstByteBy.Sub(now)
	}
	if tw.idle > 0 {
		idleBy := tw.lastByte.Add(tw.idle)
		if !now.Before(idleBy) {
			if tw.started {
				tw.aborted = true
				tw.cancel()
			} else {
				tw.timeOutLocked("no bytes from the container within the idle timeout")
			}
			return
		}
		if next < 0 || idleBy.Sub(now) < next {
			next = idleBy.Sub(now)
		}
	}
	if next >= 0 {
		tw.timer.Reset(next)
	}
}

func (tw *timeoutWriter) timeOutLocked(why string) {
	tw.timedOut = true
	h := tw.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	tw.w.WriteHeader(http.StatusGatewayTimeout)
	fmt.Fprintf(tw.w, "gateway timeout: %s\n", why)
	_ = http.NewResponseController(tw.w).Flush()
	tw.cancel()
}

// finish runs when the handler returns or panics. It must leave the real
// writer alone afterwards and turn an idle abort into a cut connection.
func (tw *timeoutWriter) finish() {
	tw.mu.Lock()
	tw.done = true
	timedOut, aborted := tw.timedOut, tw.aborted
	if !tw.started && !timedOut && !tw.hijacked {
		copyHeader(tw.w.Header(), tw.header) // net/http sends the implicit 200
	}
	tw.mu.Unlock()
	tw.timer.Stop()
	tw.cancel()

	if p := recover(); p != nil {
		// The proxy panics with ErrAbortHandler when its copy fails because
		// we cancelled it; after a 504 that would lose the 504.
		if timedOut && errors.Is(asError(p), http.ErrAbortHandler) {
			return
		}
		panic(p)
	}
	if aborted {
		panic(http.ErrAbortHandler)
	}
}

func asError(p any) error {
	err, _ := p.(error)
	return err
}

// copyHeader shares the value slices: the handler's map is not written to
// after the response starts.
func copyHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = vv
	}
}
