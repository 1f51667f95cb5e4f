// Package measure holds the arithmetic and the report format shared by the
// benchmarks of pkg/bench: percentiles, medians over rounds, ratios against
// a baseline of the same run, and markdown tables that paste into
// BENCHMARKS.md as they are.
package measure

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of d: with
// the few samples of a cold-start run, an interpolated p99 would invent a
// value no request had. Zero for no samples.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return percentileSorted(s, p)
}

func percentileSorted(s []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(float64(len(s)) * p / 100))
	return s[max(1, min(rank, len(s)))-1]
}

// Median of v (the lower middle for an even count, so that it is always a
// value some round produced); NaN for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// MedianDuration is Median for durations; zero for none.
func MedianDuration(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// Ratio formats a/b as "0.83×", or "n/a" when b is not positive (a
// baseline that added nothing, or was not measured).
func Ratio(a, b float64) string {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// Micros formats d in whole microseconds, the unit of warm-path figures.
func Micros(d time.Duration) string {
	return fmt.Sprintf("%d µs", d.Round(time.Microsecond).Microseconds())
}

// Millis formats d in milliseconds with one decimal below 100 ms, the unit
// of cold-start figures.
func Millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if math.Abs(ms) < 100 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// Table is a markdown table.
type Table struct {
	Header []string
	Rows   [][]string
}

// Add appends a row.
func (t *Table) Add(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write prints t as a markdown table with padded columns, readable both in
// a terminal and rendered.
func (t Table) Write(w io.Writer) {
	width := make([]int, len(t.Header))
	for _, row := range append([][]string{t.Header}, t.Rows...) {
		for i, c := range row {
			if i < len(width) {
				width[i] = max(width[i], len([]rune(c)))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i := range width {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.Header)
	sep := make([]string, len(width))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.Rows {
		line(r)
	}
}
