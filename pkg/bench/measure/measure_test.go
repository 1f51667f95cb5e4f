package measure

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		name string
		d    []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 10 is the 5th", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 50, 5 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p90 of 10 is the 9th", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"p99 of 200 is the 198th", ms(seq(200)...), 99, 198 * time.Millisecond},
	} {
		if got := Percentile(tc.d, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = n - i // reversed: Percentile must sort
	}
	return out
}

func TestPercentileLeavesInputAlone(t *testing.T) {
	d := []time.Duration{3, 1, 2}
	Percentile(d, 50)
	if d[0] != 3 || d[1] != 1 {
		t.Errorf("input reordered: %v", d)
	}
}

func TestMedian(t *testing.T) {
	if got := Median([]float64{5, 1, 3}); got != 3 {
		t.Errorf("Median(5,1,3) = %v", got)
	}
	if got := Median([]float64{4, 1, 3, 2}); got != 2 {
		t.Errorf("Median(4,1,3,2) = %v, want the lower middle 2", got)
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
	if got := MedianDuration([]time.Duration{9, 3, 6}); got != 6 {
		t.Errorf("MedianDuration = %v", got)
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Ratio(80, 100), "0.80×"},
		{Ratio(1, 0), "n/a"},
		{Ratio(1, -3), "n/a"},
		{Ratio(math.NaN(), 1), "n/a"},
		{Micros(81499 * time.Nanosecond), "81 µs"},
		{Millis(12340 * time.Microsecond), "12.3 ms"},
		{Millis(1234 * time.Millisecond), "1234 ms"},
		{Millis(-5 * time.Millisecond), "-5.0 ms"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestTableWrite(t *testing.T) {
	tb := Table{Header: []string{"path", "p50"}}
	tb.Add("direct", "40 µs")
	tb.Add("queue sidecar", "1 µs")
	var b strings.Builder
	tb.Write(&b)
	want := "| path          | p50   |\n" +
		"| ------------- | ----- |\n" +
		"| direct        | 40 µs |\n" +
		"| queue sidecar | 1 µs  |\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestBusy(t *testing.T) {
	if !Busy("999.0 1 1") || Busy("0.00 5 5") || Busy("") || Busy("x") {
		t.Error("Busy: a one-minute load above half the CPUs, nothing else")
	}
	if !strings.Contains(Machine("999.0 1 1", "0 0 0"), "preliminary") || strings.Contains(Machine("0 0 0", "0 0 0"), "preliminary") {
		t.Error("Machine marks exactly the busy runs preliminary")
	}
}
