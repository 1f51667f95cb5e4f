// Package configuration reconciles Knative Configurations: each generation of
// the template becomes an immutable Revision, the latest created and latest
// ready revisions are tracked in status, and old revisions are collected.
package configuration

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/gc"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"csclr.dev/csclr/pkg/reconciler/changes"
	"csclr.dev/csclr/pkg/reconciler/configuration/resources"
	"csclr.dev/csclr/pkg/reconciler/knstatus"
)

// Reconciler stamps Revisions out of a Configuration and reports on them.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// WithConfig puts the cluster configuration into the context
	// (config.Store.ToContext).
	WithConfig func(context.Context) context.Context
	// GC returns the current revision GC settings (config-gc).
	GC func() *gc.Config
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	config := &v1.Configuration{}
	if err := r.Client.Get(ctx, req.NamespacedName, config); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if config.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if err := knstatus.Reconcile(r.WithConfig(ctx), r.Client, r.Recorder, config, r.reconcile); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.collect(ctx, config)
}

func (r *Reconciler) reconcile(ctx context.Context, config *v1.Configuration) error {
	revs, err := r.revisions(ctx, config)
	if err != nil {
		return err
	}
	latest, err := r.latestCreated(ctx, config, revs)
	if apierrors.IsAlreadyExists(err) {
		config.Status.MarkRevisionCreationFailed(err.Error())
		return nil
	}
	if err != nil {
		return err
	}
	config.Status.SetLatestCreatedRevisionName(latest.Name)

	rc := latest.Status.GetCondition(v1.RevisionConditionReady)
	switch {
	case rc == nil || rc.IsUnknown():
		// Still coming up: Ready stays Unknown until it settles.
	case rc.IsTrue():
		if config.Status.LatestReadyRevisionName == "" {
			r.Recorder.Eventf(config, nil, corev1.EventTypeNormal, "ConfigurationReady", "Reconcile", "Configuration becomes ready")
		}
	case rc.IsFalse():
		before := config.Status.GetCondition(v1.ConfigurationConditionReady).DeepCopy()
		config.Status.MarkLatestCreatedFailed(latest.Name, failureMessage(rc))
		if after := config.Status.GetCondition(v1.ConfigurationConditionReady); before == nil || before.Reason != after.Reason || before.Message != after.Message {
			reason := "LatestCreatedFailed"
			if latest.Name == config.Status.LatestReadyRevisionName {
				reason = "LatestReadyFailed"
			}
			r.Recorder.Eventf(config, latest, corev1.EventTypeWarning, reason, "Reconcile", "Revision %q has failed: %s", latest.Name, failureMessage(rc))
		}
	}

	r.setLatestReady(config, latestReady(config, latest, revs))
	return nil
}

// setLatestReady records ready (nil: no change) as the latest ready
// revision. It is set even when the name is unchanged because that is what
// marks the Configuration Ready again once a failed latest revision
// recovers, as in Knative. Knative never marks the Configuration
// "RevisionDeleted" when the latest ready revision is gone and no other is
// ready: the name is left dangling and Ready says what the latest created
// revision says.
func (r *Reconciler) setLatestReady(config *v1.Configuration, ready *v1.Revision) {
	if ready == nil {
		return
	}
	changed := ready.Name != config.Status.LatestReadyRevisionName
	config.Status.SetLatestReadyRevisionName(ready.Name)
	if changed {
		r.Recorder.Eventf(config, ready, corev1.EventTypeNormal, "LatestReadyUpdate", "Reconcile", "LatestReadyRevisionName updated to %q", ready.Name)
	}
}

// failureMessage is never empty: clients turn it into the user's error.
func failureMessage(c *apis.Condition) string {
	if c.Message != "" {
		return c.Message
	}
	if c.Reason != "" {
		return c.Reason
	}
	return "the revision failed without a reason"
}

func (r *Reconciler) revisions(ctx context.Context, config *v1.Configuration) ([]*v1.Revision, error) {
	list := &v1.RevisionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(config.Namespace),
		client.MatchingLabels{serving.ConfigurationLabelKey: config.Name}); err != nil {
		return nil, fmt.Errorf("listing revisions of configuration %s/%s: %w", config.Namespace, config.Name, err)
	}
	out := make([]*v1.Revision, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// latestCreated finds or creates the Revision for the current generation. An
// AlreadyExists error means the BYO name belongs to another revision.
func (r *Reconciler) latestCreated(ctx context.Context, config *v1.Configuration, revs []*v1.Revision) (*v1.Revision, error) {
	name := resources.RevisionName(config)
	if config.Spec.GetTemplate().Name != "" {
		existing := &v1.Revision{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: config.Namespace, Name: name}, existing)
		if err == nil {
			if err := resources.CheckNameAvailability(config, existing); err != nil {
				return nil, err
			}
			return existing, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading revision %s/%s: %w", config.Namespace, name, err)
		}
	} else {
		gen := resources.LabelValue(serving.ConfigurationGenerationLabelKey, config)
		for _, rev := range revs {
			if rev.Labels[serving.ConfigurationGenerationLabelKey] == gen {
				return rev, nil
			}
		}
	}

	rev := resources.MakeRevision(config, r.Clock.Now())
	if err := r.Client.Create(ctx, rev); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Our cache may lag behind a revision we created ourselves; the
			// retry will see it, or report the name as taken.
			return nil, fmt.Errorf("creating revision %s/%s: %w (retrying)", rev.Namespace, rev.Name, err)
		}
		changes.CreationFailed(r.Recorder, config, "Revision", rev, err)
		config.Status.MarkRevisionCreationFailed(err.Error())
		return nil, fmt.Errorf("creating revision %s/%s for configuration %s: %w", rev.Namespace, rev.Name, config.Name, err)
	}
	var created changes.Log
	created.Created("Revision", rev)
	created.Record(r.Recorder, config)
	return rev, nil
}

// latestReady returns the revision status.latestReadyRevisionName should
// name, or nil to leave it as it is. As in Knative, latestReady only moves
// forward: the candidates start at the current latest ready revision's
// generation, so when that revision fails later (its pods crash), it stays
// latestReady, and so do the routes following the latest revision, rather
// than falling back to an older revision nobody asked for.
func latestReady(config *v1.Configuration, latest *v1.Revision, revs []*v1.Revision) *v1.Revision {
	candidates := readyCandidates(config, latest, revs)
	sortNewestFirst(config, candidates)
	for _, rev := range candidates {
		if rev.IsReady() {
			return rev
		}
	}
	return nil
}

// readyCandidates returns the revisions whose configuration generation lies
// between the latest ready revision's and the Configuration's (both
// included), and always the latest created one: a BYO name may name a
// revision of an older generation with the same spec, and it is what the
// template asks for. Revisions without a generation label are left out, as
// Knative's label selector leaves them out.
func readyCandidates(config *v1.Configuration, latest *v1.Revision, revs []*v1.Revision) []*v1.Revision {
	// The floor comes from the revisions listed before latest was created:
	// a deleted latest ready revision recreated under the same name this
	// very reconcile does not count as present, as in Knative.
	floor, ok := latestReadyGeneration(config, revs)
	if !containsName(revs, latest.Name) {
		// latest may have been created (or read) after revs were listed.
		revs = append([]*v1.Revision{latest}, revs...)
	}
	if !ok {
		return append([]*v1.Revision(nil), revs...)
	}
	var out []*v1.Revision
	for _, rev := range revs {
		gen, err := resources.Generation(rev)
		if rev.Name == latest.Name || (err == nil && gen >= floor && gen <= config.Generation) {
			out = append(out, rev)
		}
	}
	return out
}

// latestReadyGeneration is the configuration generation of the current
// latest ready revision; ok is false when there is none. A latest ready
// revision that is gone (deleted by hand: config-gc keeps it) does not
// bound the search, as in Knative, so latestReady may then go back to the
// newest older revision that is ready instead of naming a missing one. An
// unreadable generation label bounds it at the Configuration's generation.
func latestReadyGeneration(config *v1.Configuration, revs []*v1.Revision) (gen int64, ok bool) {
	name := config.Status.LatestReadyRevisionName
	if name == "" {
		return 0, false
	}
	for _, rev := range revs {
		if rev.Name != name {
			continue
		}
		gen, err := resources.Generation(rev)
		if err != nil {
			return config.Generation, true
		}
		return gen, true
	}
	return 0, false
}

// sortNewestFirst orders revs by configuration generation, newest first, with
// the template's BYO-named revision ahead of all: it is the current one
// whatever its generation. Revisions without a readable generation go last.
func sortNewestFirst(config *v1.Configuration, revs []*v1.Revision) {
	byo := config.Spec.GetTemplate().Name
	sort.SliceStable(revs, func(i, j int) bool {
		if (revs[i].Name == byo) != (revs[j].Name == byo) {
			return revs[i].Name == byo
		}
		return generationOrLowest(revs[i]) > generationOrLowest(revs[j])
	})
}

func generationOrLowest(rev *v1.Revision) int64 {
	gen, err := resources.Generation(rev)
	if err != nil {
		return -1
	}
	return gen
}

func containsName(revs []*v1.Revision, name string) bool {
	for _, r := range revs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// collect deletes the revisions config-gc lets go, each with a "Deleted"
// event on the Configuration (a "DeleteFailed" warning if it could not).
func (r *Reconciler) collect(ctx context.Context, config *v1.Configuration) error {
	revs, err := r.revisions(ctx, config)
	if err != nil {
		return err
	}
	for _, rev := range resources.Collectable(r.GC(), config, revs, r.Clock.Now()) {
		log.FromContext(ctx).Info("collecting revision", "revision", rev.Name)
		err := r.Client.Delete(ctx, rev)
		if apierrors.IsNotFound(err) {
			continue // deleted meanwhile, not by us
		}
		if err != nil {
			changes.DeleteFailed(r.Recorder, config, "Revision", rev, err)
			return fmt.Errorf("deleting revision %s/%s for garbage collection: %w", rev.Namespace, rev.Name, err)
		}
		changes.Deleted(r.Recorder, config, "Revision", rev, "garbage collected (config-gc)")
	}
	return nil
}
