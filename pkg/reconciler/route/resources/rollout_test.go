package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStepRollout(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	want := func(rev string, pct int64) *Rollout {
		return &Rollout{Configurations: []ConfigurationRollout{{
			ConfigurationName: "hello", Percent: pct, Revisions: []RevisionShare{{RevisionName: rev, Percent: pct}},
		}}}
	}
	shifting := func(start time.Time, from []RevisionShare, shares ...RevisionShare) *Rollout {
		return &Rollout{Configurations: []ConfigurationRollout{{
			ConfigurationName: "hello", Percent: 100, Revisions: shares, From: from, Start: start.Unix(),
		}}}
	}
	a100 := []RevisionShare{{RevisionName: "a", Percent: 100}}
	for _, tc := range []struct {
		name     string
		prev     *Rollout
		want     *Rollout
		now      time.Time
		duration time.Duration
		out      *Rollout
		next     time.Duration
	}{{
		name: "first time: at once", want: want("a", 100), now: t0, duration: time.Minute,
		out: want("a", 100),
	}, {
		name: "no duration: at once", prev: want("a", 100), want: want("b", 100), now: t0,
		out: want("b", 100),
	}, {
		name: "new revision starts with 1%", prev: want("a", 100), want: want("b", 100), now: t0, duration: 100 * time.Second,
		out:  shifting(t0, a100, RevisionShare{"a", 99}, RevisionShare{"b", 1}),
		next: time.Second,
	}, {
		name: "halfway", prev: shifting(t0, a100, RevisionShare{"a", 99}, RevisionShare{"b", 1}), want: want("b", 100),
		now: t0.Add(50 * time.Second), duration: 100 * time.Second,
		out:  shifting(t0, a100, RevisionShare{"a", 50}, RevisionShare{"b", 50}),
		next: time.Second,
	}, {
		name: "done", prev: shifting(t0, a100, RevisionShare{"a", 50}, RevisionShare{"b", 50}), want: want("b", 100),
		now: t0.Add(100 * time.Second), duration: 100 * time.Second,
		out: want("b", 100),
	}, {
		name: "a third revision mid-rollout starts from the current split",
		prev: shifting(t0, a100, RevisionShare{"a", 60}, RevisionShare{"b", 40}), want: want("c", 100),
		now: t0.Add(40 * time.Second), duration: 100 * time.Second,
		out: shifting(t0.Add(40*time.Second), []RevisionShare{{"a", 60}, {"b", 40}},
			RevisionShare{"a", 59}, RevisionShare{"b", 40}, RevisionShare{"c", 1}),
		next: time.Second,
	}, {
		name: "resized target moves at once", prev: want("a", 100), want: want("b", 50), now: t0, duration: time.Minute,
		out: want("b", 50),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out, next := StepRollout(tc.prev, tc.want, tc.now, tc.duration)
			if diff := cmp.Diff(tc.out, out); diff != "" {
				t.Errorf("StepRollout (-want +got):\n%s", diff)
			}
			if next != tc.next {
				t.Errorf("next = %v, want %v", next, tc.next)
			}
			if out.InProgress() != (tc.next != 0) {
				t.Errorf("InProgress = %v with next %v", out.InProgress(), next)
			}
			if got := ParseRollout(out.String()); !cmp.Equal(got, out) {
				t.Errorf("round trip: %s", cmp.Diff(out, got))
			}
		})
	}
}
