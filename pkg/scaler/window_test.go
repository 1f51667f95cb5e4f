package scaler

import (
	"math"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	tests := []struct {
		name   string
		length time.Duration
		writes map[int]float64
		now    int
		over   time.Duration
		want   float64
	}{
		{name: "empty", length: 10 * time.Second, now: 5, over: 10 * time.Second, want: 0},
		{name: "young window averages over what it saw", length: 10 * time.Second, writes: map[int]float64{0: 2, 1: 4}, now: 1, over: 10 * time.Second, want: 3},
		{name: "missing seconds count as zero", length: 10 * time.Second, writes: map[int]float64{0: 10, 2: 10}, now: 4, over: 10 * time.Second, want: 4},
		{name: "full window", length: 4 * time.Second, writes: map[int]float64{0: 100, 1: 1, 2: 2, 3: 3, 4: 4}, now: 4, over: 4 * time.Second, want: 2.5},
		{name: "shorter (panic) span", length: 10 * time.Second, writes: map[int]float64{0: 100, 1: 100, 8: 6, 9: 8}, now: 9, over: 2 * time.Second, want: 7},
		{name: "ring wraps; old laps cleared", length: 3 * time.Second, writes: map[int]float64{0: 9, 1: 9, 2: 9, 5: 3}, now: 5, over: 3 * time.Second, want: 1},
		{name: "idle long after", length: 3 * time.Second, writes: map[int]float64{0: 9}, now: 100, over: 3 * time.Second, want: 0},
		{name: "rewrite of the same second", length: 3 * time.Second, writes: map[int]float64{0: 1}, now: 0, over: 3 * time.Second, want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWindow(tc.length)
			for i := 0; i <= tc.now; i++ {
				if v, ok := tc.writes[i]; ok {
					w.record(sec(i).Add(300*time.Millisecond), v)
				}
			}
			if got := w.average(sec(tc.now).Add(900*time.Millisecond), tc.over); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("average = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWindowSeen(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	tests := []struct {
		name   string
		writes []time.Duration // after t0
		now    time.Duration
		want   time.Duration
	}{
		{name: "never written", now: 5 * time.Second, want: 0},
		{name: "written this second", writes: []time.Duration{300 * time.Millisecond}, now: 900 * time.Millisecond, want: time.Second},
		{name: "from the first write, not the last", writes: []time.Duration{0, 5 * time.Second}, now: 9 * time.Second, want: 10 * time.Second},
		{name: "longer than the window", writes: []time.Duration{0}, now: 100 * time.Second, want: 101 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWindow(10 * time.Second)
			for _, d := range tc.writes {
				w.record(t0.Add(d), 1)
			}
			if got := w.seen(t0.Add(tc.now)); got != tc.want {
				t.Errorf("seen = %v, want %v", got, tc.want)
			}
		})
	}
}
