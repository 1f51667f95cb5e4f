package parallelcold

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"csclr.dev/csclr/pkg/bench/coldstart"
	"csclr.dev/csclr/pkg/bench/podwatch"
)

func at(ms int) time.Time { return time.Unix(100, 0).Add(time.Duration(ms) * time.Millisecond) }

// run is n cold requests sent at 0..n-1 ms; the i-th (from 1) answers
// after i×100 ms, its pod created at +50 ms and Ready 20 ms before the
// answer.
func run(n int) []coldstart.Sample {
	out := make([]coldstart.Sample, n)
	for i := range out {
		end := i + (i+1)*100
		out[i] = coldstart.Sample{Service: fmt.Sprintf("pcs-%02d", i+1), Status: 200, Start: at(i), End: at(end),
			Pod: podwatch.PodTimes{Created: at(i + 50), Ready: at(end - 20)}}
	}
	return out
}

func TestStats(t *testing.T) {
	s := run(20)
	s[19].Status = 503 // the slowest failed: out of the total's figures
	got := statsOf(s, total)
	if got.n != 19 || got.p50 != 1000*time.Millisecond || got.p95 != 1900*time.Millisecond || got.maxi != 1900*time.Millisecond {
		t.Errorf("total over 19 successes: %+v", got)
	}
	if got := statsOf(s, coldstart.Sample.ToPod); got.n != 20 || got.maxi != 50*time.Millisecond {
		t.Errorf("request→pod, failed one included: %+v", got)
	}
	if got := statsOf(nil, total); got.n != 0 || got.p95 != 0 {
		t.Errorf("no samples: %+v", got)
	}
	if got := spread(s); got != 19*time.Millisecond {
		t.Errorf("spread %v, want 19ms", got)
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		n      int
		p95    time.Duration
		errors int
		want   string
	}{
		{25, 1400 * time.Millisecond, 0, "**met**"},
		{25, 1600 * time.Millisecond, 0, "**not met**"},
		{25, time.Second, 2, "**not met (2 failed)**"},
		{100, 9 * time.Second, 0, "N=100: p95 ≤ 10 s with no error: **met**"},
		{5, time.Second, 0, "goals are for N=25"},
	} {
		if got := verdict(tc.n, tc.p95, tc.errors); !strings.Contains(got, tc.want) {
			t.Errorf("verdict(%d, %v, %d) = %q, want %q in it", tc.n, tc.p95, tc.errors, got, tc.want)
		}
	}
}

func TestResultWrite(t *testing.T) {
	s := run(25)
	s[3].Status, s[3].Err = 0, "timeout"
	r := Result{Options: Options{Namespace: "ns"}, Gateway: "10.96.0.5:80", Samples: s}
	var b strings.Builder
	r.Write(&b)
	out := strings.Join(strings.Fields(b.String()), " ") // column padding is the table's business
	for _, want := range []string{
		"24 answered 200, 1 failed",
		"the sends spread over 24.0 ms",
		"**not met (1 failed)**",
		"| cold request, total | 24 | 1300 ms | 2400 ms | 2500 ms | p95 ≤ 1.5 s at N=25, ≤ 10 s at N=100 |",
		"| pod created→Ready (the pods' own start) | 25 |",
		"| error: timeout | 1 |",
		"| pcs-25 | 200 | 2500 ms | 2430 ms | 50.0 ms | 20.0 ms |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
