package scaler

import "time"

// window holds one value per second (the revision's total load in that
// second) for the last len(buckets) seconds. Seconds with no sample count as
// zero load, as Knative's buckets do.
type window struct {
	buckets []float64 // indexed by unix second modulo len
	last    int64     // the newest second written
	first   int64     // the first second ever written; 0 = none
}

func newWindow(length time.Duration) *window {
	n := int(length / time.Second)
	if n < 1 {
		n = 1
	}
	return &window{buckets: make([]float64, n)}
}

// record sets the value of the second that t falls in.
func (w *window) record(t time.Time, v float64) {
	sec := t.Unix()
	if w.first == 0 {
		w.first, w.last = sec, sec
	}
	if sec < w.last-int64(len(w.buckets))+1 {
		return // older than the window
	}
	w.clearUpTo(sec)
	w.buckets[w.index(sec)] = v
}

// clearUpTo zeroes the buckets of the seconds after last up to sec, so that
// stale values from a previous lap of the ring are not read as new.
func (w *window) clearUpTo(sec int64) {
	if sec <= w.last {
		return
	}
	n := sec - w.last
	if n > int64(len(w.buckets)) {
		n = int64(len(w.buckets))
	}
	for i := int64(1); i <= n; i++ {
		w.buckets[w.index(w.last+i)] = 0
	}
	w.last = sec
}

// seen is how much of the past the window holds at now: the seconds from
// its first write to now, both included; 0 before any write.
func (w *window) seen(now time.Time) time.Duration {
	if w.first == 0 {
		return 0
	}
	return time.Duration(now.Unix()-w.first+1) * time.Second
}

func (w *window) index(sec int64) int {
	i := int(sec % int64(len(w.buckets)))
	if i < 0 {
		i += len(w.buckets)
	}
	return i
}

// average is the mean over the length seconds ending at now. While the
// window has seen less than length, it averages over what it has seen, so
// that a new revision does not look idle because of history it never had.
func (w *window) average(now time.Time, length time.Duration) float64 {
	if w.first == 0 {
		return 0
	}
	n := int64(length / time.Second)
	if n < 1 {
		n = 1
	}
	if n > int64(len(w.buckets)) {
		n = int64(len(w.buckets))
	}
	end := now.Unix()
	if seen := end - w.first + 1; seen < n {
		n = seen
	}
	if n < 1 {
		return 0
	}
	var sum float64
	for sec := end - n + 1; sec <= end; sec++ {
		if sec > w.last || sec < w.last-int64(len(w.buckets))+1 {
			continue // not written yet, or already overwritten
		}
		sum += w.buckets[w.index(sec)]
	}
	return sum / float64(n)
}
