package loadramp

import (
	"math"
	"strings"
	"testing"
	"time"
)

// records follows s: every request sent 1 ms late and answered in 5 ms,
// except those the hook changes.
func records(s Schedule, hook func(i int, r *Record)) []Record {
	out := make([]Record, s.Total())
	for i := range out {
		due := s.Due(i)
		out[i] = Record{Due: due, Sent: due + time.Millisecond, Latency: 5 * time.Millisecond, Status: 200}
		if hook != nil {
			hook(i, &out[i])
		}
	}
	return out
}

func TestByPhase(t *testing.T) {
	s := Schedule{MaxRPS: 100, Ramp: 10 * time.Second, Hold: 5 * time.Second} // 500 on the ramp, 500 held
	recs := records(s, func(i int, r *Record) {
		switch {
		case i == 0: // the cold one
			r.Latency = 2 * time.Second
		case i == 600:
			r.Status = 503
		case i == 601:
			r.Status, r.Err, r.Detail = 0, "timeout", "Get \"http://x\": context deadline exceeded"
		case i >= 700 && i < 710:
			*r = Record{Due: r.Due, NotSent: true}
		}
	})
	per, all, warm := byPhase(recs, s.Phases(), 2*time.Second)
	if all.due != 1000 || all.sent != 990 || all.ok != 988 || all.failed != 2 || all.notSent != 10 {
		t.Errorf("whole run %+v", all)
	}
	// Request 5 is due at 1 s sharp, and every one is sent 1 ms late: the
	// first tenth sends 4, and the hold takes the ramp's last one too.
	if per[0].sent != 4 || per[9].sent != 95 || per[10].sent != 491 || per[10].notSent != 10 {
		t.Errorf("first tenth %d sent (want 4), last tenth %d (want 95), hold %d sent %d not (want 491, 10)", per[0].sent, per[9].sent, per[10].sent, per[10].notSent)
	}
	if got := per[10].rate(10*time.Second, 15*time.Second); math.Abs(got-491/5.001) > 1e-9 {
		t.Errorf("hold rate %v, want 491 over the 5.001 s up to the last send", got)
	}
	if warm.due != 981 { // 19 requests were sent before 2 s
		t.Errorf("warm: %d due, want 981", warm.due)
	}
	f := failures(recs)
	if len(f) != 2 || f["HTTP 503"].n != 1 || f["timeout"].example == "" {
		t.Errorf("failures %+v", f)
	}
}

func TestRateStretchesToLateSends(t *testing.T) {
	x := tally{sent: 100, lastSent: 20 * time.Second}
	if got := x.rate(10*time.Second, 15*time.Second); got != 10 {
		t.Errorf("rate %v, want 100 over the 10 s up to the last send", got)
	}
}

func TestPodTable(t *testing.T) {
	samples := []PodSample{{0, 0, 0}, {time.Second, 1, 0}, {2 * time.Second, 1, 0}, {3 * time.Second, 1, 1}, {4 * time.Second, 3, 1}, {5 * time.Second, 3, 3}}
	if c := changes(samples); len(c) != 5 {
		t.Errorf("changes %v, want 5 (one repeat dropped)", c)
	}
	if m, ok := maxReady(samples, 3*time.Second, 5*time.Second); !ok || m != 1 {
		t.Errorf("maxReady [3s,5s) = %d, %v", m, ok)
	}
	if _, ok := maxReady(samples, time.Minute, 2*time.Minute); ok {
		t.Error("maxReady of an empty window")
	}
	tb := podTable(samples, 2)
	if len(tb.Rows) != 4 || tb.Rows[2][0] != "… 3 more changes" || tb.Rows[3][0] != "5s (last read)" {
		t.Errorf("pod table rows %v", tb.Rows)
	}
}

func TestResultWrite(t *testing.T) {
	s := Schedule{MaxRPS: 100, Ramp: 10 * time.Second, Hold: 5 * time.Second}
	r := Result{
		Options: Options{Schedule: s, InFlight: 64, Namespace: "ns", Scaling: Scaling{Metric: "rps", Target: 30, MaxScale: 5}},
		Gateway: "10.96.0.5:80",
		Load:    Load{Records: records(s, func(i int, r *Record) { r.Status = map[bool]int{true: 504, false: 200}[i == 3] }), Elapsed: 15 * time.Second, CPU: 3 * time.Second},
		Pods:    []PodSample{{0, 0, 0}, {time.Second, 1, 1}, {11 * time.Second, 2, 2}},
		// FirstReady between request 0 (due 447 ms) and the rest
		FirstReady: time.Second,
	}
	var b strings.Builder
	r.Write(&b)
	out := strings.Join(strings.Fields(b.String()), " ") // column padding is the table's business
	for _, want := range []string{
		"1000 due, 1000 sent, 0 not sent (every slot busy), 999 answered 200, **1 failed**",
		"The hold achieved **100 rps**, 100 % of the target",
		"sent late by p50 1.0 ms, p99 1.0 ms, max 1.0 ms",
		"0.20 cores",
		"Goal: 0 errors: **not met (1 failed, 0 not sent)**",
		"| ramp 1/10 | 0–10 | 4 | 4 | 3 | 1 | 0 | 5.0 ms | 5.0 ms | 5.0 ms | 1.0 ms | 0 |", // sent 1 ms late: the 5th is in the next tenth,
		"| hold | 100–100 | 501 | 100 | 501 |",
		"| whole run | — | 1000 |",
		"| warm (sent after the first pod was Ready) | — | 996 |",
		"| HTTP 504 | 1 |",
		"| 11s | 2 | 2 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
