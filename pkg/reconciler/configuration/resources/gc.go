package resources

import (
	"sort"
	"strings"
	"time"

	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/gc"
)

// Collectable returns the Revisions of config that garbage collection should
// delete under cfg (config-gc semantics), oldest activity first. Revisions
// referenced by a Route (routingState active or pending), the latest ready
// one, and those annotated serving.knative.dev/no-gc: "true" are never
// returned.
func Collectable(cfg *gc.Config, config *v1.Configuration, revs []*v1.Revision, now time.Time) []*v1.Revision {
	minKeep, maxKeep := int(cfg.MinNonActiveRevisions), int(cfg.MaxNonActiveRevisions)
	if maxKeep == gc.Disabled && cfg.RetainSinceCreateTime == gc.Disabled && cfg.RetainSinceLastActiveTime == gc.Disabled {
		return nil
	}
	if len(revs) <= minKeep {
		return nil
	}
	var inactive []*v1.Revision
	for _, rev := range revs {
		if !isActive(rev, config) {
			inactive = append(inactive, rev)
		}
	}
	if len(inactive) <= minKeep {
		return nil
	}
	sort.SliceStable(inactive, func(i, j int) bool {
		return lastActive(inactive[i]).Before(lastActive(inactive[j]))
	})

	var out []*v1.Revision
	kept := make([]*v1.Revision, 0, len(inactive))
	// Stale revisions go first, but never below the minimum to keep.
	for _, rev := range inactive {
		if len(out) < len(inactive)-minKeep && isStale(cfg, rev, now) {
			out = append(out, rev)
			continue
		}
		kept = append(kept, rev)
	}
	// Then the oldest of the rest, down to the maximum.
	if maxKeep != gc.Disabled && len(kept) > maxKeep {
		out = append(out, kept[:len(kept)-maxKeep]...)
	}
	return out
}

func isActive(rev *v1.Revision, config *v1.Configuration) bool {
	if rev.Name == config.Status.LatestReadyRevisionName {
		return true
	}
	if strings.EqualFold(rev.Annotations[serving.RevisionPreservedAnnotationKey], "true") {
		return true
	}
	return rev.GetRoutingState() != v1.RoutingStateReserve
}

func isStale(cfg *gc.Config, rev *v1.Revision, now time.Time) bool {
	if cfg.RetainSinceCreateTime == gc.Disabled && cfg.RetainSinceLastActiveTime == gc.Disabled {
		return false
	}
	if cfg.RetainSinceCreateTime != gc.Disabled && now.Sub(rev.CreationTimestamp.Time) < cfg.RetainSinceCreateTime {
		return false
	}
	if cfg.RetainSinceLastActiveTime != gc.Disabled && now.Sub(lastActive(rev)) < cfg.RetainSinceLastActiveTime {
		return false
	}
	return true
}

func lastActive(rev *v1.Revision) time.Time {
	if t := rev.GetRoutingStateModified(); !t.IsZero() {
		return t
	}
	return rev.CreationTimestamp.Time
}
