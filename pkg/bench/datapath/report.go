package datapath

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"csclr.dev/csclr/pkg/bench/measure"
)

// Write prints the run as markdown: what was run and on what machine, the
// three paths' medians over the rounds, then the figures of
// design/benchmarks.md next to their goals. Nothing is asserted.
func (r Result) Write(w io.Writer) {
	o := r.Options
	fmt.Fprintf(w, "Loopback, one trivial backend; %d rounds, each: closed loop with %d connections for %s per path (A B C), then %.0f rps for %s per path (A B C); medians over the rounds. Queue sidecar: CONTAINER_CONCURRENCY=%d, request log %s. %s; run took %s.\n\n",
		o.Rounds, o.Connections, o.Duration, o.Rate, o.Duration, o.ContainerConcurrency, onOff(o.QueueRequestLog), measure.Machine(r.LoadBefore, r.LoadAfter), r.Took.Round(time.Second))
	r.pathTable().Write(w)
	fmt.Fprintln(w)
	r.goalTable().Write(w)
}

func onOff(b bool) string {
	if b {
		return "on (to /dev/null)"
	}
	return "off"
}

func (r Result) pathTable() measure.Table {
	o := r.Options
	t := measure.Table{Header: []string{"path", fmt.Sprintf("max rps (%d conns)", o.Connections),
		fmt.Sprintf("p50 at %.0f rps", o.Rate), fmt.Sprintf("p99 at %.0f rps", o.Rate),
		"proxy vCPU per 1000 rps (fixed rate)", "(closed loop)", "errors", "dropped"}}
	for _, p := range r.Paths {
		cpuFixed, cpuClosed := "—", "—"
		if p.Proxy {
			cpuFixed, cpuClosed = vcpu(p.median(Round.fixedCPUPer1000)), vcpu(p.median(Round.closedCPUPer1000))
		}
		errs, dropped := 0, 0
		for _, x := range p.Rounds {
			errs += x.Closed.Errors + x.Fixed.Errors
			dropped += x.Fixed.Dropped
		}
		t.Add(p.Name, fmt.Sprintf("%.0f", p.median(func(x Round) float64 { return x.Closed.RPS() })),
			measure.Micros(p.medianDuration(func(x Round) time.Duration { return x.P50 })),
			measure.Micros(p.medianDuration(func(x Round) time.Duration { return x.P99 })),
			cpuFixed, cpuClosed, strconv.Itoa(errs), strconv.Itoa(dropped))
	}
	return t
}

// goalTable compares the queue with the baselines of the same rounds: each
// ratio is taken per round (the paths of one round saw the same load) and
// the median of those is shown.
func (r Result) goalTable() measure.Table {
	t := measure.Table{Header: []string{"figure (queue sidecar)", "result", "goal"}}
	if len(r.Paths) != 3 {
		return t
	}
	d, b, q := r.Paths[0], r.Paths[1], r.Paths[2]
	added := func(pick func(Round) time.Duration, of PathResult) func(int) float64 {
		return func(i int) float64 { return float64(pick(of.Rounds[i]) - pick(d.Rounds[i])) }
	}
	p50 := func(x Round) time.Duration { return x.P50 }
	p99 := func(x Round) time.Duration { return x.P99 }
	rps := func(of PathResult) func(int) float64 { return func(i int) float64 { return of.Rounds[i].Closed.RPS() } }
	n := len(q.Rounds)
	t.Add("added p50 vs the bare hop's", addedCell(n, added(p50, q), added(p50, b)), "≤ 0.8×")
	t.Add("added p99 vs the bare hop's", addedCell(n, added(p99, q), added(p99, b)), "≤ 1.0×")
	t.Add("throughput vs direct", ratioCell(n, rps(q), rps(d)), "≥ 0.65×")
	t.Add("throughput vs the bare hop", ratioCell(n, rps(q), rps(b)), "≥ 1.2×")
	// Both loads: per request, a proxy costs more at a modest rate (every
	// request wakes it) than flat out (work batches per wakeup).
	t.Add(fmt.Sprintf("CPU per 1000 rps (at %.0f rps; at max rps)", r.Options.Rate),
		fmt.Sprintf("%s; %s vCPU (bare hop: %s; %s)", vcpu(q.median(Round.fixedCPUPer1000)), vcpu(q.median(Round.closedCPUPer1000)),
			vcpu(b.median(Round.fixedCPUPer1000)), vcpu(b.median(Round.closedCPUPer1000))), "≤ 0.12 vCPU")
	return t
}

// ratioCell is the median over rounds of a(i)/b(i).
func ratioCell(n int, a, b func(int) float64) string {
	var v []float64
	for i := range n {
		if b(i) > 0 {
			v = append(v, a(i)/b(i))
		}
	}
	if len(v) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", measure.Median(v))
}

// addedCell is ratioCell of the added latencies, with their medians.
func addedCell(n int, q, b func(int) float64) string {
	var qs, bs []float64
	for i := range n {
		qs, bs = append(qs, q(i)), append(bs, b(i))
	}
	us := func(ns float64) string { return fmt.Sprintf("%+.0f µs", ns/1e3) }
	return fmt.Sprintf("%s (queue %s, bare %s)", ratioCell(n, q, b), us(measure.Median(qs)), us(measure.Median(bs)))
}

func (p PathResult) median(f func(Round) float64) float64 {
	var v []float64
	for _, x := range p.Rounds {
		if y := f(x); !math.IsNaN(y) {
			v = append(v, y)
		}
	}
	return measure.Median(v)
}

func (p PathResult) medianDuration(f func(Round) time.Duration) time.Duration {
	var v []time.Duration
	for _, x := range p.Rounds {
		v = append(v, f(x))
	}
	return measure.MedianDuration(v)
}

// CPUPer1000 is the cores a process needs per 1000 requests per second:
// its CPU time over the phase's wall time, per thousand rps served.
func CPUPer1000(cpu, elapsed time.Duration, requests int) float64 {
	if elapsed <= 0 || requests == 0 {
		return math.NaN()
	}
	rps := float64(requests) / elapsed.Seconds()
	return cpu.Seconds() / elapsed.Seconds() / (rps / 1000)
}

func (x Round) fixedCPUPer1000() float64 {
	return CPUPer1000(x.FixedCPU, x.Fixed.Elapsed, len(x.Fixed.Latencies))
}

func (x Round) closedCPUPer1000() float64 {
	return CPUPer1000(x.ClosedCPU, x.Closed.Elapsed, x.Closed.OK)
}

func vcpu(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}
