package controlplane

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Timing is what happened to one Service of the run, in creation order.
type Timing struct {
	Name string
	// CreateStart is when the create request was sent: the clock of a
	// Service starts here, so the admission webhook's latency counts.
	CreateStart time.Time
	// Created is when the create call returned; zero if it failed.
	Created   time.Time
	CreateErr error
	// Ready is the first time the watch saw Ready=True for the latest
	// generation; zero if never.
	Ready time.Time
	// LastReason is the Ready condition's reason last seen, for Services
	// that did not become Ready.
	LastReason string
}

// ToReady is the Service's create-to-Ready time, false if it never got there.
func (t Timing) ToReady() (time.Duration, bool) {
	if t.Ready.IsZero() {
		return 0, false
	}
	return t.Ready.Sub(t.CreateStart), true
}

// Result is everything the benchmark measured.
type Result struct {
	Services  int
	Namespace string
	Image     string
	Parallel  int
	Timings   []Timing
	// Start is the first create; CreatedAll the last create's return;
	// AllReady when the last Service became Ready (zero if not all did).
	Start, CreatedAll, AllReady time.Time
	// End closes the resource window (AllReady, or the timeout).
	End        time.Time
	Controller ControllerUsage
}

// Summary condenses a set of durations.
type Summary struct {
	N                   int
	P50, P95, Max, Mean time.Duration
}

// Summarize computes nearest-rank percentiles: with few samples an
// interpolated p95 would invent a value no Service had.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return Summary{N: len(s), P50: percentile(s, 50), P95: percentile(s, 95), Max: s[len(s)-1], Mean: sum / time.Duration(len(s))}
}

// percentile of sorted values by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(float64(len(sorted))*p/100 + 0.999999)
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// readyTimes lists the create-to-Ready times of timings (skipping Services
// that never became Ready).
func readyTimes(timings []Timing) []time.Duration {
	var out []time.Duration
	for _, t := range timings {
		if d, ok := t.ToReady(); ok {
			out = append(out, d)
		}
	}
	return out
}

// Chunks splits the Services in creation order into n groups of (almost)
// equal size and summarizes each, so a reader sees whether later Services,
// created while the controller already holds many, take longer.
func Chunks(timings []Timing, n int) []Summary {
	if n > len(timings) {
		n = len(timings)
	}
	out := make([]Summary, 0, n)
	for i := range n {
		lo, hi := i*len(timings)/n, (i+1)*len(timings)/n
		out = append(out, Summarize(readyTimes(timings[lo:hi])))
	}
	return out
}

// Write prints the report. Every line says what it measured: the figures
// are read next to the goals of design/benchmarks.md, never asserted.
func (r Result) Write(w io.Writer) {
	ready := readyTimes(r.Timings)
	failed := 0
	for _, t := range r.Timings {
		if t.CreateErr != nil {
			failed++
		}
	}
	fmt.Fprintf(w, "control-plane scale: %d Services (initial-scale 0) in namespace %s, %d creates in parallel\n", r.Services, r.Namespace, r.Parallel)
	fmt.Fprintf(w, "image %s\n\n", r.Image)
	fmt.Fprintf(w, "created      %d of %d in %s (%d create calls failed)\n", len(r.Timings)-failed, r.Services, dur(r.CreatedAll.Sub(r.Start)), failed)
	if r.AllReady.IsZero() {
		fmt.Fprintf(w, "all Ready    NOT REACHED: %d of %d Ready after %s\n", len(ready), r.Services, dur(r.End.Sub(r.Start)))
		writeNotReady(w, r.Timings)
	} else {
		fmt.Fprintf(w, "all Ready    %s after the first create (goal for 1000: <= 60s)\n", dur(r.AllReady.Sub(r.Start)))
	}
	fmt.Fprintf(w, "create call  %s\n", r.createCalls())
	fmt.Fprintf(w, "create→Ready %s\n", Summarize(ready))
	writeFlatness(w, r.Timings)
	fmt.Fprintln(w)
	r.Controller.Write(w, r.End.Sub(r.Start))
	fmt.Fprintln(w)
	r.Controller.Leader.Write(w, r.Services)
}

func (r Result) createCalls() Summary {
	var d []time.Duration
	for _, t := range r.Timings {
		if !t.Created.IsZero() {
			d = append(d, t.Created.Sub(t.CreateStart))
		}
	}
	return Summarize(d)
}

// writeFlatness compares the first and last 10 Services and prints tenths
// of the run: the goal is a per-Service time that does not grow with N.
func writeFlatness(w io.Writer, timings []Timing) {
	k := min(10, len(timings))
	if k == 0 {
		return
	}
	first, last := Summarize(readyTimes(timings[:k])), Summarize(readyTimes(timings[len(timings)-k:]))
	ratio := "n/a"
	if first.P50 > 0 && last.N > 0 {
		ratio = fmt.Sprintf("%.2f", float64(last.P50)/float64(first.P50))
	}
	fmt.Fprintf(w, "first %d      %s\nlast %d       %s\nlast/first p50 %s (goal: flat, about 1)\n", k, first, k, last, ratio)
	if len(timings) < 20 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "tenth (creation order)\tReady\tp50\tp95\tmax")
	for i, s := range Chunks(timings, 10) {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", i+1, s.N, dur(s.P50), dur(s.P95), dur(s.Max))
	}
	tw.Flush()
}

// writeNotReady says why Services did not become Ready, grouped by reason.
func writeNotReady(w io.Writer, timings []Timing) {
	reasons := map[string]int{}
	for _, t := range timings {
		if _, ok := t.ToReady(); ok {
			continue
		}
		reason := t.LastReason
		switch {
		case t.CreateErr != nil:
			reason = "create failed: " + t.CreateErr.Error()
		case reason == "":
			reason = "no Ready condition seen"
		}
		reasons[reason]++
	}
	for _, k := range slices.Sorted(maps.Keys(reasons)) {
		fmt.Fprintf(w, "  %4d  %s\n", reasons[k], k)
	}
}

func (s Summary) String() string {
	if s.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p95 %s  max %s  mean %s  (n=%d)", dur(s.P50), dur(s.P95), dur(s.Max), dur(s.Mean), s.N)
}

// dur rounds for reading: milliseconds below 10 s, else tenths of a second.
func dur(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// mib formats bytes as MiB.
func mib(b uint64) string {
	if b == 0 {
		return "-"
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(b)/(1<<20)), ".0") + " MiB"
}
