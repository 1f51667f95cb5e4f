package loadramp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"
)

// Record is one due request. Due and Sent are offsets from the load's
// start; Sent - Due is the generator's own lag.
type Record struct {
	Due, Sent, Latency time.Duration
	// NotSent: every in-flight slot was busy when it was due; an open
	// loop must not wait for one (that would make it a closed loop).
	NotSent bool
	Status  int    // 0 when no response came
	Err     string // class of the failure before a response (errClass)
	Detail  string // the error text, kept for the classes that need it
}

// OK is a request answered 200 with its whole body.
func (r Record) OK() bool { return !r.NotSent && r.Err == "" && r.Status == http.StatusOK }

// Load is what the generator did.
type Load struct {
	Records []Record // one per due request, in schedule order
	Elapsed time.Duration
	CPU     time.Duration // the generator process's CPU time meanwhile
}

// Target is where the load goes: the gateway's URL, with the Service's host.
type Target struct {
	URL, Host string
}

// NewClient is the generator's client: keep-alive HTTP/1.1 with as many
// connections as requests may be in flight, so that a warm run reuses its
// connections and never waits for one.
func NewClient(inFlight int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxConnsPerHost:     inFlight,
		MaxIdleConnsPerHost: inFlight,
		MaxIdleConns:        inFlight,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}}
}

// Generate sends s's requests to t, each at its due moment, with at most
// inFlight outstanding; a request due while all are outstanding is
// recorded NotSent. It returns when every sent request has ended (each is
// bounded by c's timeout) or ctx ends.
func Generate(ctx context.Context, c *http.Client, t Target, s Schedule, inFlight int) Load {
	recs := make([]Record, s.Total())
	slots := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	cpu0 := processCPU()
	start := time.Now()
	dispatched := len(recs) // fewer when ctx ends first
	for i := range recs {
		due := s.Due(i)
		recs[i].Due = due
		// Sleeping less than this costs more than the lateness it saves.
		if wait := time.Until(start.Add(due)); wait > 50*time.Microsecond {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			dispatched = i
			break
		}
		select {
		case slots <- struct{}{}:
			wg.Go(func() {
				defer func() { <-slots }()
				recs[i] = send(ctx, c, t, start, due)
			})
		default:
			recs[i].NotSent = true
		}
	}
	wg.Wait()
	return Load{Records: recs[:dispatched], Elapsed: time.Since(start), CPU: processCPU() - cpu0}
}

// send makes one request and reads its whole body.
func send(ctx context.Context, c *http.Client, t Target, start time.Time, due time.Duration) (r Record) {
	r = Record{Due: due, Sent: time.Since(start)}
	defer func() { r.Latency = time.Since(start) - r.Sent }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		r.Err, r.Detail = "request", err.Error()
		return r
	}
	req.Host = t.Host
	resp, err := c.Do(req)
	if err != nil {
		r.Err, r.Detail = errClass(err), err.Error()
		return r
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.Status = resp.StatusCode
	if err != nil {
		r.Err, r.Detail = "body: "+errClass(err), err.Error()
	}
	return r
}

// errClass names a transport failure by kind, so that the report can
// count them (the texts differ by connection).
func errClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled (run interrupted)"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), os.IsTimeout(err):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed (EOF)"
	}
	return "other"
}

// processCPU is this process's user and system CPU time so far: the
// generator's own cost, on a machine where it shares the CPUs with the
// cluster it loads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
