package datapath

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// NewClient is the load generator's client for one path: keep-alive
// HTTP/1.1 with at most conns connections, so that a closed loop of conns
// workers holds exactly that many open and never dials during a phase.
func NewClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		MaxIdleConns:        conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}, Timeout: 10 * time.Second}
}

// get sends one GET and reads the whole body; false on any error or a
// status other than 200.
func get(c *http.Client, req *http.Request) bool {
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK
}

// Closed is what a closed-loop phase did.
type Closed struct {
	OK, Errors int
	Elapsed    time.Duration
}

// RPS is the successful requests per second.
func (c Closed) RPS() float64 {
	if c.Elapsed <= 0 {
		return 0
	}
	return float64(c.OK) / c.Elapsed.Seconds()
}

// ClosedLoop runs conns workers, each sending its next request as soon as
// the last one is answered, for d: the most this path carries at that
// concurrency.
func ClosedLoop(ctx context.Context, c *http.Client, url string, conns int, d time.Duration) Closed {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			for ctx.Err() == nil {
				if get(c, req) {
					ok.Add(1)
				} else if ctx.Err() == nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return Closed{OK: int(ok.Load()), Errors: int(failed.Load()), Elapsed: time.Since(start)}
}

// Fixed is what a fixed-rate phase did.
type Fixed struct {
	Latencies []time.Duration // of the successful requests
	Errors    int
	// Dropped counts requests that were due while every worker was busy:
	// the path did not sustain the rate, and its percentiles flatter it.
	Dropped int
	Elapsed time.Duration
}

// FixedRate sends rate requests per second for d, each due at its slot of
// the schedule, with up to workers in flight. A request's latency runs from
// when a worker sends it to the end of its body, so the dispatcher's own
// lateness on a busy machine is not charged to the path; requests that find
// no free worker are counted as Dropped instead.
func FixedRate(ctx context.Context, c *http.Client, url string, rate float64, workers int, d time.Duration) Fixed {
	due := make(chan struct{}, workers)
	lat := make([][]time.Duration, workers)
	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			for range due {
				start := time.Now()
				if get(c, req) {
					lat[w] = append(lat[w], time.Since(start))
				} else {
					failed.Add(1)
				}
			}
		})
	}
	start := time.Now()
	dropped := dispatch(ctx, due, start, rate, d)
	close(due)
	wg.Wait()
	f := Fixed{Errors: int(failed.Load()), Dropped: dropped, Elapsed: time.Since(start)}
	for _, l := range lat {
		f.Latencies = append(f.Latencies, l...)
	}
	return f
}

// dispatch hands one token per slot of the schedule (start + i/rate) to the
// workers, never waiting for one, and returns how many found none free.
func dispatch(ctx context.Context, due chan<- struct{}, start time.Time, rate float64, d time.Duration) int {
	interval := time.Duration(float64(time.Second) / rate)
	n := int(d / interval)
	dropped := 0
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return dropped
			}
		}
		select {
		case due <- struct{}{}:
		default:
			dropped++
		}
	}
	return dropped
}
