package parallelcold

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"csclr.dev/csclr/pkg/bench/coldstart"
	"csclr.dev/csclr/pkg/bench/measure"
)

// goalP95 is design/benchmarks.md's goal for the p95 of N cold requests;
// it names N=25 and N=100 only.
func goalP95(n int) (time.Duration, bool) {
	switch n {
	case 25:
		return 1500 * time.Millisecond, true
	case 100:
		return 10 * time.Second, true
	}
	return 0, false
}

// figure is one derived duration of a sample, ok false when it could not
// be measured (no pod seen, failed request).
type figure func(coldstart.Sample) (time.Duration, bool)

func total(s coldstart.Sample) (time.Duration, bool) { return s.Total(), s.Succeeded() }

// stats are the figure's p50, p95 and max over the samples that have it.
type stats struct {
	n              int
	p50, p95, maxi time.Duration
}

func statsOf(samples []coldstart.Sample, f figure) stats {
	var d []time.Duration
	for _, s := range samples {
		if v, ok := f(s); ok {
			d = append(d, v)
		}
	}
	return stats{n: len(d), p50: measure.Percentile(d, 50), p95: measure.Percentile(d, 95), maxi: measure.Percentile(d, 100)}
}

// errorCounts are the failed requests by status or error text.
func errorCounts(samples []coldstart.Sample) map[string]int {
	out := map[string]int{}
	for _, s := range samples {
		switch {
		case s.Err != "":
			out["error: "+s.Err]++
		case !s.Succeeded():
			out["HTTP "+strconv.Itoa(s.Status)]++
		}
	}
	return out
}

// spread is how far apart the requests left: the last send minus the
// first; the "at once" of the run.
func spread(samples []coldstart.Sample) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	first, last := samples[0].Start, samples[0].Start
	for _, s := range samples {
		first, last = minTime(first, s.Start), maxTime(last, s.Start)
	}
	return last.Sub(first)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// verdict compares the run with the goal for its N, if there is one: p95
// within the goal and no failed request.
func verdict(n int, p95 time.Duration, errors int) string {
	goal, ok := goalP95(n)
	if !ok {
		return "The goals are for N=25 (p95 ≤ 1.5 s) and N=100 (p95 ≤ 10 s)."
	}
	met := "met"
	switch {
	case errors > 0:
		met = fmt.Sprintf("not met (%d failed)", errors)
	case p95 > goal:
		met = "not met"
	}
	return fmt.Sprintf("Goal at N=%d: p95 ≤ %s s with no error: **%s** (p95 %s).", n, strconv.FormatFloat(goal.Seconds(), 'f', -1, 64), met, measure.Millis(p95))
}

// Write prints the run as markdown: the summary figures next to the goal,
// failures by kind, and the slowest requests. Nothing is asserted.
func (r Result) Write(w io.Writer) {
	errs := errorCounts(r.Samples)
	failed := 0
	for _, n := range errs {
		failed += n
	}
	tot := statsOf(r.Samples, total)
	fmt.Fprintf(w, "%d Services at zero (initial-scale 0) in %s, each sent its first request through the gateway %s at the same moment (the sends spread over %s); %d answered 200, %d failed. Pod times as a watch saw them. %s %s.\n\n",
		len(r.Samples), r.Options.Namespace, r.Gateway, measure.Millis(spread(r.Samples)), len(r.Samples)-failed, failed,
		verdict(len(r.Samples), tot.p95, failed), measure.Machine(r.LoadBefore, r.LoadAfter))
	r.summaryTable().Write(w)
	if failed > 0 {
		fmt.Fprintln(w)
		errorTable(errs).Write(w)
	}
	fmt.Fprintln(w)
	slowest(r.Samples, 5).Write(w)
}

func (r Result) summaryTable() measure.Table {
	t := measure.Table{Header: []string{"figure", "n", "p50", "p95", "max", "goal"}}
	row := func(name, goal string, f figure) {
		s := statsOf(r.Samples, f)
		if s.n == 0 {
			t.Add(name, "0", "n/a", "n/a", "n/a", goal)
			return
		}
		t.Add(name, strconv.Itoa(s.n), measure.Millis(s.p50), measure.Millis(s.p95), measure.Millis(s.maxi), goal)
	}
	row("cold request, total", "p95 ≤ 1.5 s at N=25, ≤ 10 s at N=100", total)
	row("pod created→Ready (the pods' own start)", "—", coldstart.Sample.PodStart)
	row("overhead over pod-ready", "—", coldstart.Sample.Overhead)
	row("  of which request→pod created", "—", coldstart.Sample.ToPod)
	row("  of which pod Ready→response", "—", coldstart.Sample.ReadyToResponse)
	return t
}

func errorTable(errs map[string]int) measure.Table {
	t := measure.Table{Header: []string{"failure", "requests"}}
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		t.Add(k, strconv.Itoa(errs[k]))
	}
	return t
}

// slowest are the k slowest requests, slowest first, failed ones included.
func slowest(samples []coldstart.Sample, k int) measure.Table {
	s := slices.Clone(samples)
	slices.SortStableFunc(s, func(a, b coldstart.Sample) int { return cmp.Compare(b.Total(), a.Total()) })
	t := measure.Table{Header: []string{"slowest", "status", "total", "pod created→Ready", "request→pod created", "pod Ready→response"}}
	cell := func(d time.Duration, ok bool) string {
		if !ok {
			return "n/a"
		}
		return measure.Millis(d)
	}
	for _, x := range s[:min(k, len(s))] {
		status := strconv.Itoa(x.Status)
		if x.Err != "" {
			status = "error"
		}
		t.Add(x.Service, status, measure.Millis(x.Total()), cell(x.PodStart()), cell(x.ToPod()), cell(x.ReadyToResponse()))
	}
	return t
}
