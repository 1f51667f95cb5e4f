package controlplane

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", ms(7), Summary{N: 1, P50: 7 * time.Millisecond, P95: 7 * time.Millisecond, Max: 7 * time.Millisecond, Mean: 7 * time.Millisecond}},
		// Nearest rank: p50 of 4 is the 2nd value, p95 the 4th.
		{"unsorted four", ms(40, 10, 30, 20), Summary{N: 4, P50: 20 * time.Millisecond, P95: 40 * time.Millisecond, Max: 40 * time.Millisecond, Mean: 25 * time.Millisecond}},
		{"twenty", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100),
			Summary{N: 20, P50: 10 * time.Millisecond, P95: 19 * time.Millisecond, Max: 100 * time.Millisecond, Mean: 14500 * time.Microsecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Summarize(tt.in)); diff != "" {
				t.Errorf("Summarize (-want +got):\n%s", diff)
			}
		})
	}
}

// timings makes n Services created 100 ms apart whose create-to-Ready time
// is given in milliseconds; a negative time means never Ready.
func timings(readyMs ...int) []Timing {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Timing, len(readyMs))
	for i, r := range readyMs {
		start := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		out[i] = Timing{Name: serviceNames(len(readyMs))[i], CreateStart: start, Created: start.Add(5 * time.Millisecond)}
		if r >= 0 {
			out[i].Ready = start.Add(time.Duration(r) * time.Millisecond)
		} else {
			out[i].LastReason = "RevisionMissing: waiting"
		}
	}
	return out
}

func TestChunks(t *testing.T) {
	got := Chunks(timings(10, 20, 30, 40, -1, 60), 3)
	want := []Summary{
		{N: 2, P50: 10 * time.Millisecond, P95: 20 * time.Millisecond, Max: 20 * time.Millisecond, Mean: 15 * time.Millisecond},
		{N: 2, P50: 30 * time.Millisecond, P95: 40 * time.Millisecond, Max: 40 * time.Millisecond, Mean: 35 * time.Millisecond},
		{N: 1, P50: 60 * time.Millisecond, P95: 60 * time.Millisecond, Max: 60 * time.Millisecond, Mean: 60 * time.Millisecond},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Chunks (-want +got):\n%s", diff)
	}
	if n := len(Chunks(timings(1, 2), 10)); n != 2 {
		t.Errorf("Chunks of 2 into 10 = %d groups, want 2", n)
	}
}

func TestWriteAllReady(t *testing.T) {
	tm := timings(500, 600, 700)
	r := Result{Services: 3, Namespace: "ns", Image: "img", Parallel: 2, Timings: tm,
		Start: tm[0].CreateStart, CreatedAll: tm[2].Created, AllReady: tm[2].Ready, End: tm[2].Ready,
		Controller: ControllerUsage{Source: "fake", Pods: []PodUsage{{
			Pod: "c-1", Leader: "both", First: Sample{CPU: time.Second, WorkingSet: 20 << 20}, Last: Sample{CPU: 1500 * time.Millisecond, KernelPeak: 64 << 20},
			PeakWorkingSet: 30 << 20, PeakRSS: 25 << 20, Samples: 4,
		}}}}
	var b bytes.Buffer
	r.Write(&b)
	out := b.String()
	for _, want := range []string{
		"all Ready    900ms after the first create",
		"create→Ready p50 600ms  p95 700ms  max 700ms",
		"last/first p50 1.00",
		"c-1  both    0.50",
		"20 MiB",
		"30 MiB",
		"64 MiB",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteNotAllReady(t *testing.T) {
	tm := timings(500, -1, -1)
	tm[2].CreateErr, tm[2].Created = errors.New("webhook timed out"), time.Time{}
	r := Result{Services: 3, Timings: tm, Start: tm[0].CreateStart, CreatedAll: tm[1].Created, End: tm[0].CreateStart.Add(time.Minute),
		Controller: ControllerUsage{Err: errors.New("no controller pods")}}
	var b bytes.Buffer
	r.Write(&b)
	out := b.String()
	for _, want := range []string{
		"NOT REACHED: 1 of 3 Ready after 1m0s",
		"1  RevisionMissing: waiting",
		"1  create failed: webhook timed out",
		"(1 create calls failed)",
		"not measured: no controller pods",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestDurAndMiB(t *testing.T) {
	for in, want := range map[time.Duration]string{1234567 * time.Microsecond: "1.235s", 12345 * time.Millisecond: "12.3s"} {
		if got := dur(in); got != want {
			t.Errorf("dur(%v) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[uint64]string{0: "-", 1 << 20: "1 MiB", 3 << 19: "1.5 MiB"} {
		if got := mib(in); got != want {
			t.Errorf("mib(%d) = %q, want %q", in, got, want)
		}
	}
}
