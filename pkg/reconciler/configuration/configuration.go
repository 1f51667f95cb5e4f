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

	if ready := latestReady(config, latest, revs); ready != nil && ready.Name != config.Status.LatestReadyRevisionName {
		config.Status.SetLatestReadyRevisionName(ready.Name)
		r.Recorder.Eventf(config, ready, corev1.EventTypeNormal, "LatestReadyUpdate", "Reconcile", "LatestReadyRevisionName updated to %q", ready.Name)
	} else if ready == nil && config.Status.LatestReadyRevisionName != "" && !contains(revs, config.Status.LatestReadyRevisionName) {
		config.Status.MarkLatestReadyDeleted()
	}
	return nil
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

// latestReady picks the newest ready revision: the current BYO one first,
// then by configuration generation.
func latestReady(config *v1.Configuration, latest *v1.Revision, revs []*v1.Revision) *v1.Revision {
	if latest.IsReady() {
		return latest
	}
	candidates := append([]*v1.Revision(nil), revs...)
	sort.SliceStable(candidates, func(i, j int) bool {
		gi, _ := resources.Generation(candidates[i])
		gj, _ := resources.Generation(candidates[j])
		return gi > gj
	})
	for _, rev := range candidates {
		if rev.IsReady() {
			return rev
		}
	}
	return nil
}

func contains(revs []*v1.Revision, name string) bool {
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
