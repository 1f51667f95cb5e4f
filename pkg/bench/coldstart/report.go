package coldstart

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"csclr.dev/csclr/pkg/bench/measure"
)

// Figures derived from one Sample; ok is false for those that could not be
// measured (no pod seen, failed request, no signal).
func (s Sample) Total() time.Duration { return s.End.Sub(s.Start) }

// PodStart is the pod's own start: created → Ready, both as watched.
func (s Sample) PodStart() (time.Duration, bool) {
	return s.Pod.Ready.Sub(s.Pod.Created), !s.Pod.Created.IsZero() && !s.Pod.Ready.IsZero()
}

// Overhead is what the cold request cost beyond the pod's own start: the
// path to the pod's creation (signal, KEDA, HPA, Deployment, scheduler)
// plus Ready → response (endpoints reaching the activator, the probe, the
// proxied request).
func (s Sample) Overhead() (time.Duration, bool) {
	pod, ok := s.PodStart()
	return s.Total() - pod, ok && s.Succeeded()
}

// ToPod is request → the pod's creation seen by the watch.
func (s Sample) ToPod() (time.Duration, bool) {
	return s.Pod.Created.Sub(s.Start), !s.Pod.Created.IsZero()
}

// ReadyToResponse is the pod seen Ready → the response's end; negative when
// the response beat the watch event.
func (s Sample) ReadyToResponse() (time.Duration, bool) {
	return s.End.Sub(s.Pod.Ready), !s.Pod.Ready.IsZero() && s.Succeeded()
}

// ToSignal is request → the first "active" on a KEDA stream.
func (s Sample) ToSignal() (time.Duration, bool) {
	return s.Signal.Sub(s.Start), !s.Signal.IsZero() && s.SignalProblem == ""
}

// Succeeded: the request got its 200; only then are its figures counted.
func (s Sample) Succeeded() bool { return s.Err == "" && s.Status == http.StatusOK }

func (s Sample) line() string {
	cell := func(d time.Duration, ok bool) string {
		if !ok {
			return "n/a"
		}
		return measure.Millis(d)
	}
	status := strconv.Itoa(s.Status)
	if s.Err != "" {
		status = "error: " + s.Err
	}
	l := fmt.Sprintf("%s: %s in %s; pod created→Ready %s; overhead %s; request→pod %s; request→scaler active %s",
		s.Service, status, measure.Millis(s.Total()), cell(s.PodStart()), cell(s.Overhead()), cell(s.ToPod()), cell(s.ToSignal()))
	if s.SignalProblem != "" {
		l += " (scaler streams: " + s.SignalProblem + ")"
	}
	return l
}

// Write prints the run as markdown: per request, then p50/p99 next to the
// goals of design/benchmarks.md. Nothing is asserted.
func (r Result) Write(w io.Writer) {
	ok := 0
	for _, s := range r.Samples {
		if s.Succeeded() {
			ok++
		}
	}
	fmt.Fprintf(w, "%d Services at zero (initial-scale 0) in %s, each sent its first request through the gateway %s one after another; %d answered 200. Pod times as a watch saw them; \"scaler active\" is the first \"true\" on a StreamIsActive stream this command held on every activator, as KEDA does. With %d requests p99 is the largest. %s.\n\n",
		len(r.Samples), r.Options.Namespace, r.Gateway, ok, len(r.Samples), measure.Machine(r.LoadBefore, r.LoadAfter))
	r.sampleTable().Write(w)
	fmt.Fprintln(w)
	r.summaryTable().Write(w)
}

func (r Result) sampleTable() measure.Table {
	t := measure.Table{Header: []string{"service", "status", "total", "pod created→Ready", "overhead", "request→pod created", "pod Ready→response", "request→scaler active"}}
	cell := func(d time.Duration, ok bool) string {
		if !ok {
			return "n/a"
		}
		return measure.Millis(d)
	}
	for _, s := range r.Samples {
		status := strconv.Itoa(s.Status)
		if s.Err != "" {
			status = "error"
		}
		t.Add(s.Service, status, measure.Millis(s.Total()), cell(s.PodStart()), cell(s.Overhead()), cell(s.ToPod()), cell(s.ReadyToResponse()), cell(s.ToSignal()))
	}
	return t
}

func (r Result) summaryTable() measure.Table {
	t := measure.Table{Header: []string{"figure", "n", "p50", "p99", "goal"}}
	row := func(name, goal string, f func(Sample) (time.Duration, bool)) {
		var d []time.Duration
		for _, s := range r.Samples {
			if v, ok := f(s); ok {
				d = append(d, v)
			}
		}
		p50, p99 := "n/a", "n/a"
		if len(d) > 0 {
			p50, p99 = measure.Millis(measure.Percentile(d, 50)), measure.Millis(measure.Percentile(d, 99))
		}
		t.Add(name, strconv.Itoa(len(d)), p50, p99, goal)
	}
	row("cold request, total", "—", func(s Sample) (time.Duration, bool) { return s.Total(), s.Succeeded() })
	row("pod created→Ready (the pod's own start)", "—", Sample.PodStart)
	row("overhead over pod-ready", "≤ 50 ms p50, ≤ 150 ms p99", Sample.Overhead)
	row("  of which request→pod created", "—", Sample.ToPod)
	row("  of which pod Ready→response", "—", Sample.ReadyToResponse)
	row("first cold request→scaler active", "≤ 10 ms", Sample.ToSignal)
	return t
}
