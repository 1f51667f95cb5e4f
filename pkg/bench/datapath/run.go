// Package datapath is `csclr bench data-path`: the warm-path overhead,
// throughput and CPU cost of the queue sidecar against a direct call and a
// bare httputil.ReverseProxy hop, all on loopback, interleaved in one run
// (see design/benchmarks.md).
package datapath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"csclr.dev/csclr/pkg/bench/measure"
)

// Options of a run. Every phase is bounded by Duration, so a run takes
// about Warmup×3 + Rounds × 2 phases × 3 paths × Duration.
type Options struct {
	// Self is the command line that runs this binary's hidden server
	// command (which calls Serve), without --role and --target.
	Self        []string
	QueueBinary string // the cmd/queue binary (BuildQueue)

	Rounds      int
	Duration    time.Duration // of each phase of each path in a round
	Warmup      time.Duration // per path, before the first round, not counted
	Connections int           // closed-loop workers, and the fixed-rate workers' bound
	Rate        float64       // requests per second of the fixed-rate phase

	ContainerConcurrency int  // the sidecar's CONTAINER_CONCURRENCY (Knative's default: 0, unlimited)
	QueueRequestLog      bool // the sidecar's request log, on unless the operator turns it off

	Progress io.Writer // one line per round; nil for none
}

// Path names, in the order every round visits them.
const (
	Direct = "direct"
	Bare   = "bare ReverseProxy hop"
	Queue  = "queue sidecar hop"
)

// Round is one path's figures in one round.
type Round struct {
	Closed    Closed
	ClosedCPU time.Duration // the proxy process's CPU time during Closed
	Fixed     Fixed
	FixedCPU  time.Duration
	P50, P99  time.Duration // of Fixed.Latencies
}

// PathResult is one path over all rounds.
type PathResult struct {
	Name   string
	Proxy  bool // a process between client and backend whose CPU was read
	Rounds []Round
}

// Result is a whole run.
type Result struct {
	Options               Options
	Paths                 []PathResult // Direct, Bare, Queue
	LoadBefore, LoadAfter string       // /proc/loadavg's first three fields
	Took                  time.Duration
}

// Run starts the backend, the bare proxy and the queue sidecar as child
// processes, then measures the three paths in turn, round after round.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	started := time.Now()
	res := Result{Options: o, LoadBefore: measure.LoadAverage()}
	errOut := o.Progress
	if errOut == nil {
		errOut = io.Discard
	}
	backend, err := startSelf(ctx, o.Self, RoleBackend, "", errOut)
	if err != nil {
		return res, err
	}
	defer backend.stop()
	bare, err := startSelf(ctx, o.Self, RoleBare, backend.url, errOut)
	if err != nil {
		return res, err
	}
	defer bare.stop()
	port, err := portOf(backend.url)
	if err != nil {
		return res, err
	}
	q, err := startQueue(ctx, o, port, errOut)
	if err != nil {
		return res, err
	}
	defer q.stop()

	res.Paths, err = measureAll(ctx, o, []*child{nil, bare, q}, backend.url)
	res.LoadAfter = measure.LoadAverage()
	res.Took = time.Since(started)
	return res, err
}

func (o Options) validate() error {
	switch {
	case len(o.Self) == 0:
		return errors.New("data-path bench: Options.Self is empty")
	case o.QueueBinary == "":
		return errNoQueue
	case o.Rounds < 1, o.Connections < 1, o.Rate <= 0, o.Duration <= 0:
		return fmt.Errorf("data-path bench: rounds (%d), connections (%d), rate (%v) and duration (%v) must be positive",
			o.Rounds, o.Connections, o.Rate, o.Duration)
	}
	return nil
}

// measureAll warms every path, then runs the rounds: in each, the closed
// loop on every path in turn (A B C), then the fixed rate (A B C), so that
// the machine's load drifts over all three alike.
func measureAll(ctx context.Context, o Options, proxies []*child, direct string) ([]PathResult, error) {
	names := []string{Direct, Bare, Queue}
	paths := make([]PathResult, len(names))
	clients := make([]*clientFor, len(names))
	for i, p := range proxies {
		url := direct
		if p != nil {
			url = p.url
		}
		paths[i] = PathResult{Name: names[i], Proxy: p != nil}
		clients[i] = &clientFor{url: url, proxy: p, c: NewClient(o.Connections)}
		defer clients[i].c.CloseIdleConnections()
		ClosedLoop(ctx, clients[i].c, url, o.Connections, o.Warmup)
	}
	for r := range o.Rounds {
		rounds := make([]Round, len(paths))
		for i, c := range clients {
			cpu := c.cpu()
			rounds[i].Closed = ClosedLoop(ctx, c.c, c.url, o.Connections, o.Duration)
			rounds[i].ClosedCPU = c.cpu() - cpu
		}
		for i, c := range clients {
			cpu := c.cpu()
			f := FixedRate(ctx, c.c, c.url, o.Rate, o.Connections, o.Duration)
			rounds[i].FixedCPU = c.cpu() - cpu
			rounds[i].Fixed, rounds[i].P50, rounds[i].P99 = f, measure.Percentile(f.Latencies, 50), measure.Percentile(f.Latencies, 99)
		}
		for i := range paths {
			paths[i].Rounds = append(paths[i].Rounds, rounds[i])
		}
		if err := ctx.Err(); err != nil {
			return paths, fmt.Errorf("data-path bench interrupted after %d of %d rounds: %w", r+1, o.Rounds, err)
		}
		progress(o.Progress, r+1, o.Rounds, names, rounds)
	}
	return paths, nil
}

func progress(w io.Writer, r, of int, names []string, rounds []Round) {
	if w == nil {
		return
	}
	var parts []string
	for i, x := range rounds {
		parts = append(parts, fmt.Sprintf("%s %.0f rps, p50 %s p99 %s", names[i], x.Closed.RPS(), measure.Micros(x.P50), measure.Micros(x.P99)))
	}
	fmt.Fprintf(w, "round %d/%d: %s\n", r, of, strings.Join(parts, "; "))
}

// clientFor is the load generator's side of one path.
type clientFor struct {
	url   string
	proxy *child // nil for the direct path
	c     *http.Client
}

// cpu is the proxy's CPU time so far; zero for the direct path or when
// /proc cannot be read (the report then shows no CPU figure).
func (c *clientFor) cpu() time.Duration {
	if c.proxy == nil {
		return 0
	}
	d, err := ProcessCPU(c.proxy.Pid())
	if err != nil {
		return 0
	}
	return d
}

func portOf(rawURL string) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(u.Port())
}
