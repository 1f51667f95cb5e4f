package resources

import (
	"encoding/json"
	"sort"
	"time"
)

// RolloutAnnotation records the gradual rollout state on the HTTPRoute, the
// object that carries the split (Knative keeps it on its Ingress).
const RolloutAnnotation = "serving.knative.dev/rollout"

// Rollout is the traffic each latest-following target currently sends to
// each revision while a gradual rollout (serving.knative.dev/rollout-duration)
// moves it from the previous latest ready revision to the new one.
type Rollout struct {
	Configurations []ConfigurationRollout `json:"configurations,omitempty"`
}

// ConfigurationRollout is one latest-following traffic target: Percent of the
// Route's traffic (under Tag) that follows ConfigurationName.
type ConfigurationRollout struct {
	ConfigurationName string `json:"configurationName"`
	Tag               string `json:"tag,omitempty"`
	Percent           int64  `json:"percent"`
	// Revisions share Percent; the last one is the newest (the target).
	Revisions []RevisionShare `json:"revisions"`
	// From are the shares when the current rollout started, and Start its
	// Unix time in seconds; empty when no rollout is in progress.
	From  []RevisionShare `json:"from,omitempty"`
	Start int64           `json:"start,omitempty"`
}

// RevisionShare is one revision's part of a ConfigurationRollout.
type RevisionShare struct {
	RevisionName string `json:"revisionName"`
	Percent      int64  `json:"percent"`
}

func (c ConfigurationRollout) key() string { return c.ConfigurationName + "\x00" + c.Tag }

// InProgress reports whether any target is still shifting traffic.
func (r *Rollout) InProgress() bool {
	for _, c := range r.Configurations {
		if len(c.Revisions) > 1 {
			return true
		}
	}
	return false
}

// Shares returns the current split of the latest-following target, if any.
func (r *Rollout) Shares(configuration, tag string) ([]RevisionShare, bool) {
	for _, c := range r.Configurations {
		if c.ConfigurationName == configuration && c.Tag == tag {
			return c.Revisions, true
		}
	}
	return nil, false
}

// StepRollout computes the split at now. prev is the recorded rollout (nil at
// first), want the split the Route asks for (each target with its single
// latest ready revision). A target whose latest revision changed starts
// shifting from its previous split; traffic moves linearly over duration,
// and a target that is not shifting (or duration is 0) takes want at once.
// It returns the split and how long until it should be recomputed (0 when no
// rollout is in progress).
func StepRollout(prev, want *Rollout, now time.Time, duration time.Duration) (*Rollout, time.Duration) {
	old := map[string]ConfigurationRollout{}
	if prev != nil {
		for _, c := range prev.Configurations {
			old[c.key()] = c
		}
	}
	out := &Rollout{}
	var next time.Duration
	for _, w := range want.Configurations {
		cur := w
		cur.From, cur.Start = nil, 0
		p, seen := old[w.key()]
		target := w.Revisions[len(w.Revisions)-1].RevisionName
		switch {
		case duration <= 0 || !seen || w.Percent == 0 || p.Percent != w.Percent:
			// Nothing to shift from: a new or resized target moves at once.
		case p.Revisions[len(p.Revisions)-1].RevisionName != target:
			// A new latest revision: start from the split served now.
			cur.From, cur.Start = p.Revisions, now.Unix()
		case len(p.Revisions) > 1:
			cur.From, cur.Start = p.From, p.Start
		}
		if cur.From != nil {
			elapsed := now.Sub(time.Unix(cur.Start, 0))
			if elapsed < duration {
				cur.Revisions = shift(cur.From, target, w.Percent, elapsed, duration)
				next = minPositive(next, stepInterval(w.Percent, duration))
			} else {
				cur.From, cur.Start = nil, 0
			}
		}
		out.Configurations = append(out.Configurations, cur)
	}
	sort.SliceStable(out.Configurations, func(i, j int) bool { return out.Configurations[i].key() < out.Configurations[j].key() })
	return out, next
}

// shift moves the elapsed fraction of percent onto target, taking it from
// the oldest of the previous revisions first.
func shift(from []RevisionShare, target string, percent int64, elapsed, duration time.Duration) []RevisionShare {
	moved := int64(float64(percent) * elapsed.Seconds() / duration.Seconds())
	if moved < 1 {
		moved = 1 // the new revision gets traffic from the first step
	}
	var out []RevisionShare
	var fromTarget int64
	for _, s := range from {
		if s.RevisionName == target {
			fromTarget += s.Percent
			continue
		}
		out = append(out, s)
	}
	newShare := fromTarget + moved
	if newShare > percent {
		newShare = percent
	}
	take := newShare - fromTarget
	for i := range out {
		if take <= 0 {
			break
		}
		n := min(take, out[i].Percent)
		out[i].Percent -= n
		take -= n
	}
	kept := out[:0]
	for _, s := range out {
		if s.Percent > 0 {
			kept = append(kept, s)
		}
	}
	return append(kept, RevisionShare{RevisionName: target, Percent: newShare})
}

// stepInterval is how long one percent takes to move, at least one second.
func stepInterval(percent int64, duration time.Duration) time.Duration {
	return max(time.Second, duration/time.Duration(max(percent, 1)))
}

func minPositive(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// ParseRollout reads a recorded rollout; a missing or unreadable record
// yields nil, which makes the next step move traffic at once.
func ParseRollout(s string) *Rollout {
	if s == "" {
		return nil
	}
	r := &Rollout{}
	if err := json.Unmarshal([]byte(s), r); err != nil {
		return nil
	}
	return r
}

// String is the JSON form stored in RolloutAnnotation.
func (r *Rollout) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}
