package coldstart

import (
	"strings"
	"testing"
	"time"

	"csclr.dev/csclr/pkg/bench/podwatch"
)

func at(ms int) time.Time { return time.Unix(100, 0).Add(time.Duration(ms) * time.Millisecond) }

type figure func(Sample) (time.Duration, bool)

func TestSampleFigures(t *testing.T) {
	ok := Sample{Service: "cold-01", Status: 200, Start: at(0), End: at(1300),
		Pod: podwatch.PodTimes{Created: at(80), Ready: at(1280)}, Signal: at(3)}
	noPod := Sample{Service: "cold-02", Status: 200, Start: at(0), End: at(900)}
	failed := ok
	failed.Status, failed.Err = 0, "timeout"
	early := ok
	early.SignalProblem = "the scaler said active before the request"

	for _, tc := range []struct {
		name   string
		s      Sample
		f      figure
		want   time.Duration
		wantOK bool
	}{
		{"pod start", ok, Sample.PodStart, 1200 * time.Millisecond, true},
		{"overhead", ok, Sample.Overhead, 100 * time.Millisecond, true},
		{"request→pod", ok, Sample.ToPod, 80 * time.Millisecond, true},
		{"ready→response", ok, Sample.ReadyToResponse, 20 * time.Millisecond, true},
		{"signal", ok, Sample.ToSignal, 3 * time.Millisecond, true},
		{"no pod seen: no pod start", noPod, Sample.PodStart, 0, false},
		{"no pod seen: no overhead", noPod, Sample.Overhead, 0, false},
		{"no signal", noPod, Sample.ToSignal, 0, false},
		{"failed request: no overhead", failed, Sample.Overhead, 0, false},
		{"early signal: not counted", early, Sample.ToSignal, 0, false},
	} {
		got, gotOK := tc.f(tc.s)
		if gotOK != tc.wantOK || (gotOK && got != tc.want) {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, gotOK, tc.want, tc.wantOK)
		}
	}
}

func TestResultWrite(t *testing.T) {
	r := Result{Options: Options{Namespace: "ns"}, Gateway: "10.96.0.5:80", Samples: []Sample{
		{Service: "cold-01", Status: 200, Start: at(0), End: at(1300), Pod: podwatch.PodTimes{Created: at(80), Ready: at(1280)}, Signal: at(3)},
		{Service: "cold-02", Status: 200, Start: at(0), End: at(1500), Pod: podwatch.PodTimes{Created: at(90), Ready: at(1450)}, Signal: at(5)},
	}}
	var b strings.Builder
	r.Write(&b)
	for _, want := range []string{
		"| cold-01 | 200 | 1300 ms | 1200 ms | 100 ms | 80.0 ms | 20.0 ms | 3.0 ms |",
		"| overhead over pod-ready | 2 | 100 ms | 140 ms | ≤ 50 ms p50, ≤ 150 ms p99 |",
		"| first cold request→scaler active | 2 | 3.0 ms | 5.0 ms | ≤ 10 ms |",
		"2 answered 200",
	} {
		// Column padding is the table's business, not this test's.
		if !strings.Contains(strings.Join(strings.Fields(b.String()), " "), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
