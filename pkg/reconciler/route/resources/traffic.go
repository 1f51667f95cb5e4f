// Package resources holds the Route reconciler's pure decisions: which
// revisions the traffic targets resolve to, the gradual rollout step, the
// URLs, and the apex Service, EndpointSlice, HTTPRoute and Ingress a Route
// becomes, and its tags' Services, EndpointSlices and HTTPRoutes.
package resources

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
)

// Lookup is what the reconciler read for a Route: the Configurations and
// Revisions its targets name (absent = not found).
type Lookup struct {
	Configurations map[string]*v1.Configuration
	Revisions      map[string]*v1.Revision
}

// Target is a traffic target resolved to a concrete revision.
type Target struct {
	v1.TrafficTarget
	Protocol networking.ProtocolType
}

// TargetError says why a Route's traffic cannot be assigned; it marks the
// Route's AllTrafficAssigned condition with Knative's reason.
type TargetError struct {
	kind    string // Configuration or Revision
	name    string
	missing bool
	failed  bool
}

func (e *TargetError) Error() string {
	switch {
	case e.missing:
		return fmt.Sprintf("%s %q referenced in traffic not found", e.kind, e.name)
	case e.failed:
		return fmt.Sprintf("%s %q referenced in traffic failed to become ready", e.kind, e.name)
	}
	return fmt.Sprintf("%s %q referenced in traffic is not ready yet", e.kind, e.name)
}

// IsFailure reports whether waiting cannot help.
func (e *TargetError) IsFailure() bool { return e.missing || e.failed }

// Mark writes the error onto the Route's status with Knative's reasons
// (ConfigurationMissing, RevisionMissing, RevisionFailed, ...).
func (e *TargetError) Mark(rs *v1.RouteStatus) {
	switch {
	case e.missing:
		rs.MarkMissingTrafficTarget(e.kind, e.name)
	case e.kind == "Configuration" && e.failed:
		rs.MarkConfigurationFailed(e.name)
	case e.kind == "Configuration":
		rs.MarkConfigurationNotReady(e.name)
	case e.failed:
		rs.MarkRevisionFailed(e.name)
	default:
		rs.MarkRevisionNotReady(e.name)
	}
}

// ResolveTraffic resolves each spec target to a ready revision: a
// configurationName target to the Configuration's latest ready revision, a
// revisionName target to that revision. Targets with the same tag, revision
// and latestRevision are merged, as Knative does. When a target cannot be
// resolved the error is the most serious one found (a failure wins over
// not-ready), and no targets are returned.
func ResolveTraffic(route *v1.Route, in Lookup) ([]Target, *TargetError) {
	var out []Target
	var deferred *TargetError
	for _, tt := range route.Spec.Traffic {
		t, err := resolve(tt, in)
		if err != nil {
			if deferred == nil || err.IsFailure() {
				deferred = err
			}
			continue
		}
		out = merge(out, t)
	}
	if deferred != nil {
		return nil, deferred
	}
	return out, nil
}

func resolve(tt v1.TrafficTarget, in Lookup) (Target, *TargetError) {
	t := Target{TrafficTarget: *tt.DeepCopy()}
	if t.Percent == nil {
		t.Percent = ptr.To[int64](0)
	}
	if t.LatestRevision == nil {
		t.LatestRevision = ptr.To(tt.RevisionName == "")
	}
	var rev *v1.Revision
	if tt.RevisionName != "" {
		var ok bool
		if rev, ok = in.Revisions[tt.RevisionName]; !ok {
			return t, &TargetError{kind: "Revision", name: tt.RevisionName, missing: true}
		}
		if cfg := rev.Labels[serving.ConfigurationLabelKey]; cfg != "" {
			t.ConfigurationName = cfg
		}
	} else {
		cfg, ok := in.Configurations[tt.ConfigurationName]
		if !ok {
			return t, &TargetError{kind: "Configuration", name: tt.ConfigurationName, missing: true}
		}
		if cfg.Status.LatestReadyRevisionName == "" {
			return t, &TargetError{kind: "Configuration", name: cfg.Name, failed: conditionFalse(cfg.Status.GetCondition(v1.ConfigurationConditionReady))}
		}
		if rev, ok = in.Revisions[cfg.Status.LatestReadyRevisionName]; !ok {
			return t, &TargetError{kind: "Revision", name: cfg.Status.LatestReadyRevisionName, missing: true}
		}
		t.RevisionName = rev.Name
	}
	if !rev.IsReady() {
		return t, &TargetError{kind: "Revision", name: rev.Name, failed: conditionFalse(rev.Status.GetCondition(v1.RevisionConditionReady))}
	}
	t.Protocol = rev.GetProtocol()
	return t, nil
}

func conditionFalse(c *apis.Condition) bool {
	return c != nil && c.Status == corev1.ConditionFalse
}

func merge(ts []Target, t Target) []Target {
	for i := range ts {
		if ts[i].Tag == t.Tag && ts[i].RevisionName == t.RevisionName && *ts[i].LatestRevision == *t.LatestRevision {
			ts[i].Percent = ptr.To(*ts[i].Percent + *t.Percent)
			return ts
		}
	}
	return append(ts, t)
}

// WantedRollout is the split the targets ask for, one entry per
// latest-following target with traffic, for StepRollout.
func WantedRollout(ts []Target) *Rollout {
	r := &Rollout{}
	for _, t := range ts {
		if !*t.LatestRevision || *t.Percent == 0 {
			continue
		}
		r.Configurations = append(r.Configurations, ConfigurationRollout{
			ConfigurationName: t.ConfigurationName, Tag: t.Tag, Percent: *t.Percent,
			Revisions: []RevisionShare{{RevisionName: t.RevisionName, Percent: *t.Percent}},
		})
	}
	return r
}

// ApplyRollout expands each latest-following target into the revisions the
// rollout currently splits it between (the newest keeps the target's place);
// protocols come from the revisions in lookup.
func ApplyRollout(ts []Target, ro *Rollout, in Lookup) []Target {
	var out []Target
	for _, t := range ts {
		shares, ok := ro.Shares(t.ConfigurationName, t.Tag)
		if !*t.LatestRevision || !ok || len(shares) < 2 {
			out = append(out, t)
			continue
		}
		for _, s := range shares {
			st := t
			st.TrafficTarget = *t.TrafficTarget.DeepCopy()
			st.RevisionName, st.Percent = s.RevisionName, ptr.To(s.Percent)
			if rev, ok := in.Revisions[s.RevisionName]; ok {
				st.Protocol = rev.GetProtocol()
			}
			out = append(out, st)
		}
	}
	return out
}
