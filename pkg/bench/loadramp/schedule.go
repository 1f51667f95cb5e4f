package loadramp

import (
	"fmt"
	"math"
	"time"
)

// Schedule is the open-loop plan: the rate climbs linearly from 0 to
// MaxRPS over Ramp, then stays at MaxRPS for Hold. Requests are due at
// fixed moments whatever the answers do, as independent clients would
// send them.
type Schedule struct {
	MaxRPS     float64
	Ramp, Hold time.Duration
}

// maxRequests bounds a run's bookkeeping (one record per request, about
// 100 MB at this many).
const maxRequests = 2_000_000

// Validate rejects a schedule that sends nothing or more than the
// generator keeps records for.
func (s Schedule) Validate() error {
	switch {
	case s.MaxRPS <= 0 || s.Ramp < 0 || s.Hold < 0 || s.Duration() <= 0:
		return fmt.Errorf("the load needs a positive --max-rps and a positive --ramp or --hold (got %g rps, %s, %s)", s.MaxRPS, s.Ramp, s.Hold)
	case s.count(s.Duration()) > maxRequests:
		return fmt.Errorf("%g rps over %s ramp and %s hold is %.0f requests, more than the %d the generator keeps records for: shorten the run", s.MaxRPS, s.Ramp, s.Hold, s.count(s.Duration()), maxRequests)
	}
	return nil
}

// Duration is the whole schedule.
func (s Schedule) Duration() time.Duration { return s.Ramp + s.Hold }

// RateAt is the target rate t into the schedule.
func (s Schedule) RateAt(t time.Duration) float64 {
	if t >= s.Ramp {
		return s.MaxRPS
	}
	return s.MaxRPS * float64(t) / float64(s.Ramp)
}

// count is how many requests are due by t: the integral of the rate.
func (s Schedule) count(t time.Duration) float64 {
	ramp := min(t, s.Ramp).Seconds()
	n := 0.0
	if s.Ramp > 0 {
		n = s.MaxRPS * ramp * ramp / (2 * s.Ramp.Seconds())
	}
	if t > s.Ramp {
		n += s.MaxRPS * (t - s.Ramp).Seconds()
	}
	return n
}

// Total is the number of requests the schedule sends.
func (s Schedule) Total() int { return int(s.count(s.Duration()) + 1e-9) }

// Due is when request i (from 0) is due: the moment the integral of the
// rate reaches i+1, so that the first request goes out once the ramp has
// earned it rather than at 0.
func (s Schedule) Due(i int) time.Duration {
	k := float64(i + 1)
	rampN := s.count(s.Ramp)
	if k <= rampN && s.Ramp > 0 {
		return time.Duration(math.Sqrt(2*s.Ramp.Seconds()*k/s.MaxRPS) * float64(time.Second))
	}
	return s.Ramp + time.Duration((k-rampN)/s.MaxRPS*float64(time.Second))
}

// Phase is a stretch of the schedule the report gives figures for.
type Phase struct {
	Name           string
	From, To       time.Duration
	RPSFrom, RPSTo float64
}

// Phases are the ramp's tenths, then the hold.
func (s Schedule) Phases() []Phase {
	var out []Phase
	if s.Ramp > 0 {
		for i := range 10 {
			from, to := s.Ramp*time.Duration(i)/10, s.Ramp*time.Duration(i+1)/10
			out = append(out, Phase{Name: fmt.Sprintf("ramp %d/10", i+1), From: from, To: to, RPSFrom: s.RateAt(from), RPSTo: s.RateAt(to)})
		}
	}
	if s.Hold > 0 {
		out = append(out, Phase{Name: "hold", From: s.Ramp, To: s.Duration(), RPSFrom: s.MaxRPS, RPSTo: s.MaxRPS})
	}
	return out
}

// phaseOf is the index in phases of the phase t falls in; a moment past
// the end (a late send) counts in the last one.
func phaseOf(phases []Phase, t time.Duration) int {
	for i, p := range phases {
		if t < p.To {
			return i
		}
	}
	return len(phases) - 1
}
