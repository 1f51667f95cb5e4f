package loadramp

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"csclr.dev/csclr/pkg/bench/measure"
)

// tally is the figures of a set of records (a phase, or the whole run).
type tally struct {
	due, sent, ok, failed, notSent int
	lat, lag                       []time.Duration // of the 200s; of every sent request
	lastSent                       time.Duration
}

func (t *tally) add(r Record) {
	t.due++
	switch {
	case r.NotSent:
		t.notSent++
		return
	case r.OK():
		t.ok++
		t.lat = append(t.lat, r.Latency)
	default:
		t.failed++
	}
	t.sent++
	t.lag = append(t.lag, r.Sent-r.Due)
	t.lastSent = max(t.lastSent, r.Sent)
}

// rate is the requests sent per second over [from, to), stretched to the
// last send when the generator ran late.
func (t tally) rate(from, to time.Duration) float64 {
	span := max(to, t.lastSent) - from
	if span <= 0 {
		return 0
	}
	return float64(t.sent) / span.Seconds()
}

// when a record counts: a sent one at its send, an unsent one when due.
func when(r Record) time.Duration {
	if r.NotSent {
		return r.Due
	}
	return r.Sent
}

// byPhase tallies the records per phase of s, the whole run, and the warm
// part of it: those sent after firstReady (none if it is negative).
func byPhase(recs []Record, phases []Phase, firstReady time.Duration) (per []tally, all, warm tally) {
	per = make([]tally, len(phases))
	for _, r := range recs {
		per[phaseOf(phases, when(r))].add(r)
		all.add(r)
		if firstReady >= 0 && when(r) >= firstReady {
			warm.add(r)
		}
	}
	return per, all, warm
}

// failures counts the failed requests by class: HTTP status, or the
// transport error's kind, with the first one's time and text.
type failure struct {
	n           int
	first, last time.Duration
	example     string
}

func failures(recs []Record) map[string]*failure {
	out := map[string]*failure{}
	for _, r := range recs {
		if r.NotSent || r.OK() {
			continue
		}
		key, detail := r.Err, r.Detail
		if key == "" {
			key, detail = "HTTP "+strconv.Itoa(r.Status), ""
		}
		f := out[key]
		if f == nil {
			f = &failure{first: r.Sent, example: cell(detail, 80)}
			out[key] = f
		}
		f.n++
		f.last = r.Sent
	}
	return out
}

// cell makes text fit a table cell: no pipe, at most n characters.
func cell(text string, n int) string {
	text = strings.ReplaceAll(text, "|", "/")
	if r := []rune(text); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return text
}

func pct(d []time.Duration, p float64) string {
	if len(d) == 0 {
		return "n/a"
	}
	return measure.Millis(measure.Percentile(d, p))
}

func rps(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', -1, 64) }

// Write prints the run as markdown: what was asked and achieved, the
// figures per phase, the failures and the pods over time. Nothing is
// asserted.
func (r Result) Write(w io.Writer) {
	s, phases := r.Options.Schedule, r.Options.Schedule.Phases()
	per, all, warm := byPhase(r.Load.Records, phases, r.FirstReady)
	r.summary(w, per, all, warm)
	fmt.Fprintln(w)
	r.phaseTable(phases, per, all, warm).Write(w)
	if f := failures(r.Load.Records); len(f) > 0 {
		fmt.Fprintln(w)
		failureTable(f).Write(w)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Pods of the revision (its Deployment read every second; a row where the counts changed), the schedule ends at %s:\n\n", s.Duration())
	podTable(r.Pods, 30).Write(w)
}

func (r Result) summary(w io.Writer, per []tally, all, warm tally) {
	o, l := r.Options, r.Load
	fmt.Fprintf(w, "One Service at zero (initial-scale 0; metric %s, target %g, max-scale %d) in %s. An open-loop ramp from 0 to %s rps over %s, then %s rps for %s, all through the gateway %s, at most %d requests in flight: %d due, %d sent, %d not sent (every slot busy), %d answered 200, **%d failed**.",
		o.Scaling.Metric, o.Scaling.Target, o.Scaling.MaxScale, o.Namespace, rps(o.Schedule.MaxRPS), o.Schedule.Ramp, rps(o.Schedule.MaxRPS), o.Schedule.Hold,
		r.Gateway, o.InFlight, all.due, all.sent, all.notSent, all.ok, all.failed)
	if o.Schedule.Hold > 0 && len(per) > 0 {
		hold := per[len(per)-1].rate(o.Schedule.Ramp, o.Schedule.Duration())
		fmt.Fprintf(w, " The hold achieved **%s rps**, %.0f %% of the target.", rps(hold), 100*hold/o.Schedule.MaxRPS)
	}
	cores := 0.0
	if l.Elapsed > 0 {
		cores = l.CPU.Seconds() / l.Elapsed.Seconds()
	}
	fmt.Fprintf(w, " The generator (this process) sent late by p50 %s, p99 %s, max %s (send − due) and used %.1f CPU-seconds, %.2f cores over the %s run.",
		pct(all.lag, 50), pct(all.lag, 99), pct(all.lag, 100), l.CPU.Seconds(), cores, l.Elapsed.Round(time.Millisecond))
	if r.FirstReady >= 0 {
		fmt.Fprintf(w, " The first pod was Ready %s into the load; \"warm\" counts the requests sent after it (p99 %s).", r.FirstReady.Round(time.Millisecond), pct(warm.lat, 99))
	}
	verdict := "met"
	if all.failed > 0 || all.notSent > 0 {
		verdict = fmt.Sprintf("not met (%d failed, %d not sent)", all.failed, all.notSent)
	}
	fmt.Fprintf(w, " Goal: 0 errors: **%s**; p99 within the warm-path goal (peers: KEDA HTTP add-on p99 ≤ 100 ms at 1000 rps, Knative p95 ≤ 115 ms with a 100 ms app). %s.\n",
		verdict, measure.Machine(r.LoadBefore, r.LoadAfter))
}

func (r Result) phaseTable(phases []Phase, per []tally, all, warm tally) measure.Table {
	t := measure.Table{Header: []string{"phase", "target rps", "sent", "achieved rps", "200", "failed", "not sent", "p50", "p95", "p99", "generator lag p99", "pods Ready (max)"}}
	row := func(name, target string, x tally, from, to time.Duration, pods string) {
		t.Add(name, target, strconv.Itoa(x.sent), rps(x.rate(from, to)), strconv.Itoa(x.ok), strconv.Itoa(x.failed), strconv.Itoa(x.notSent),
			pct(x.lat, 50), pct(x.lat, 95), pct(x.lat, 99), pct(x.lag, 99), pods)
	}
	for i, p := range phases {
		to := p.To
		if i == len(phases)-1 {
			to = time.Duration(math.MaxInt64) // late sends and the samples after them
		}
		pods := "n/a"
		if m, ok := maxReady(r.Pods, p.From, to); ok {
			pods = strconv.Itoa(int(m))
		}
		row(p.Name, rps(p.RPSFrom)+"–"+rps(p.RPSTo), per[i], p.From, p.To, pods)
	}
	end := r.Options.Schedule.Duration()
	row("whole run", "—", all, 0, end, "")
	if r.FirstReady >= 0 {
		row("warm (sent after the first pod was Ready)", "—", warm, r.FirstReady, end, "")
	}
	return t
}

func failureTable(f map[string]*failure) measure.Table {
	t := measure.Table{Header: []string{"failure", "requests", "first sent at", "last sent at", "example"}}
	for _, k := range slices.Sorted(maps.Keys(f)) {
		x := f[k]
		t.Add(k, strconv.Itoa(x.n), x.first.Round(time.Millisecond).String(), x.last.Round(time.Millisecond).String(), x.example)
	}
	return t
}

// podTable is the pod timeline's changes, at most limit rows (a flapping
// scale would otherwise print one per second).
func podTable(samples []PodSample, limit int) measure.Table {
	t := measure.Table{Header: []string{"t", "desired", "Ready"}}
	c := changes(samples)
	for _, s := range c[:min(limit, len(c))] {
		t.Add(s.At.Round(100*time.Millisecond).String(), strconv.Itoa(int(s.Desired)), strconv.Itoa(int(s.Ready)))
	}
	if len(c) > limit {
		t.Add(fmt.Sprintf("… %d more changes", len(c)-limit), "", "")
	}
	if len(samples) > 0 {
		last := samples[len(samples)-1]
		t.Add(last.At.Round(100*time.Millisecond).String()+" (last read)", strconv.Itoa(int(last.Desired)), strconv.Itoa(int(last.Ready)))
	}
	return t
}
