package loadramp

import (
	"testing"
	"time"
)

func TestScheduleTotalAndDue(t *testing.T) {
	s := Schedule{MaxRPS: 3000, Ramp: 60 * time.Second, Hold: 30 * time.Second}
	if got := s.Total(); got != 180000 { // half of 3000×60 on the ramp, 3000×30 held
		t.Errorf("Total = %d, want 180000", got)
	}
	for _, tc := range []struct {
		i    int
		want time.Duration
	}{
		{0, 200 * time.Millisecond},      // √(2·60·1/3000) s: the ramp earns the first request
		{89999, 60 * time.Second},        // the ramp's last
		{90000, 60*time.Second + 333333}, // then one per 1/3000 s
		{179999, 90 * time.Second},       // the hold's last, at the end
		{22499, 30 * time.Second},        // a quarter of the ramp's requests by half its time
	} {
		if got := s.Due(tc.i); (got - tc.want).Abs() > time.Microsecond {
			t.Errorf("Due(%d) = %v, want %v", tc.i, got, tc.want)
		}
	}
	prev := time.Duration(-1)
	for i := range s.Total() {
		d := s.Due(i)
		if d < prev || d > s.Duration() {
			t.Fatalf("Due(%d) = %v after %v: not increasing within the schedule", i, d, prev)
		}
		prev = d
	}
}

func TestScheduleWithoutRamp(t *testing.T) {
	s := Schedule{MaxRPS: 100, Hold: 2 * time.Second}
	if s.Total() != 200 || s.Due(0) != 10*time.Millisecond || s.Due(199) != 2*time.Second {
		t.Errorf("hold only: total %d, first %v, last %v", s.Total(), s.Due(0), s.Due(199))
	}
	if p := s.Phases(); len(p) != 1 || p[0].Name != "hold" {
		t.Errorf("phases %+v, want the hold alone", p)
	}
}

func TestSchedulePhases(t *testing.T) {
	s := Schedule{MaxRPS: 200, Ramp: 10 * time.Second, Hold: 5 * time.Second}
	p := s.Phases()
	if len(p) != 11 {
		t.Fatalf("%d phases, want 10 tenths and the hold", len(p))
	}
	if p[0].Name != "ramp 1/10" || p[0].From != 0 || p[0].To != time.Second || p[0].RPSFrom != 0 || p[0].RPSTo != 20 {
		t.Errorf("first tenth %+v", p[0])
	}
	if p[9].RPSTo != 200 || p[10].Name != "hold" || p[10].From != 10*time.Second || p[10].To != 15*time.Second {
		t.Errorf("last tenth %+v, hold %+v", p[9], p[10])
	}
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{0, 0}, {999 * time.Millisecond, 0}, {time.Second, 1}, {12 * time.Second, 10}, {20 * time.Second, 10}} {
		if got := phaseOf(p, tc.at); got != tc.want {
			t.Errorf("phaseOf(%v) = %d, want %d", tc.at, got, tc.want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, s := range []Schedule{
		{MaxRPS: 0, Ramp: time.Second},
		{MaxRPS: 10},
		{MaxRPS: 10, Ramp: -time.Second, Hold: 2 * time.Second},
		{MaxRPS: 100000, Hold: time.Hour},
	} {
		if s.Validate() == nil {
			t.Errorf("%+v: no error", s)
		}
	}
	if err := (Schedule{MaxRPS: 3000, Ramp: time.Minute, Hold: time.Minute}).Validate(); err != nil {
		t.Errorf("the default run: %v", err)
	}
}
