package revision

import (
	"context"
	"errors"
	"fmt"
	"maps"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/reconciler/changes"
	"csclr.dev/csclr/pkg/reconciler/children"
	"csclr.dev/csclr/pkg/reconciler/terminating"
)

// notOwnedError says a child's name is taken by an object the revision does
// not control; the revision fails rather than fight over it.
type notOwnedError struct{ kind, name string }

func (e notOwnedError) Error() string { return v1.ResourceNotOwnedMessage(e.kind, e.name) }

// Reasons of ResourcesAvailable when the API server refuses to write a
// child. FailedCreate is Knative's reason for a PodAutoscaler whose HPA
// cannot be created (MarkResourceFailedCreation); Knative has none for an
// update.
const (
	ReasonFailedCreate = "FailedCreate"
	ReasonFailedUpdate = "FailedUpdate"
)

// refusedError is the API server refusing to create or update a child for a
// reason a retry alone does not change: an admission webhook or policy
// (KEDA's refuses some ScaledObjects), the schema, RBAC, a quota. Reason and
// message are the condition the revision shows for it.
type refusedError struct {
	reason, message string
	err             error
}

func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

// writeError wraps err, the failure to create or update (verb) a child of
// kind, as a refusedError when the refusal is one.
func writeError(verb, kind string, obj client.Object, err error) error {
	wrapped := fmt.Errorf("%s %s %s/%s: %w", gerunds[verb], kind, obj.GetNamespace(), obj.GetName(), err)
	if !refusal(err) {
		return wrapped
	}
	reason := ReasonFailedCreate
	if verb == "update" {
		reason = ReasonFailedUpdate
	}
	return refusedError{
		reason:  reason,
		message: fmt.Sprintf("Failed to %s %s %q: %s", verb, kind, obj.GetName(), apiMessage(err)),
		err:     wrapped,
	}
}

var gerunds = map[string]string{"create": "creating", "update": "updating"}

// refusal reports whether err is a 403 Forbidden or a 422 Invalid, how the
// API server answers for an admission webhook (403 unless it says
// otherwise), a ValidatingAdmissionPolicy (422 unless it says otherwise) or
// the schema. A namespace being deleted is not one: the revision goes with it.
func refusal(err error) bool {
	return (apierrs.IsForbidden(err) || apierrs.IsInvalid(err)) && !terminating.Is(err)
}

// apiMessage is the API server's own message in err.
func apiMessage(err error) string {
	var s apierrs.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}

// shown reports whether the revision's status already shows err, a refusal:
// its event was recorded when it first happened, and the retries that meet
// it again (with back-off, for as long as it lasts) record none.
func shown(rev *v1.Revision, err error) bool {
	var ref refusedError
	if !errors.As(err, &ref) {
		return false
	}
	c := rev.Status.GetCondition(v1.RevisionConditionResourcesAvailable)
	return c.IsFalse() && c.Reason == ref.reason && c.Message == ref.message
}

// applyChild creates desired, or updates the existing object when its spec
// (compared with DeepDerivative, so that server-side defaults do not count)
// or its labels and annotations differ. existing is an empty object of the
// same type. It returns the object as stored: desired itself after a
// create (the cache may not have it yet), else existing. Writes are noted in
// written, for one event per reconcile; failures are recorded at once.
//
// The cache holds only children with csclr's labels: one it does not show
// may still exist (a user removed its label), which the create finds out;
// it is then read without the cache and, if it is the revision's, updated
// back to desired, labels included (children.CreateOrRead).
func (r *Reconciler) applyChild(ctx context.Context, rev *v1.Revision, written *changes.Log, kind string, desired, existing client.Object, inSync func() bool, copySpec func()) (client.Object, error) {
	err := r.client.Get(ctx, client.ObjectKeyFromObject(desired), existing)
	if apierrs.IsNotFound(err) {
		created, err := children.CreateOrRead(ctx, r.client, r.reader, desired, existing)
		if err != nil {
			werr := writeError("create", kind, desired, err)
			if !shown(rev, werr) {
				changes.CreationFailed(r.recorder, rev, kind, desired, err)
			}
			return nil, werr
		}
		if created {
			written.Created(kind, desired)
			return desired, nil
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading %s %s/%s: %w", kind, desired.GetNamespace(), desired.GetName(), err)
	}
	if !metav1.IsControlledBy(existing, rev) {
		return nil, notOwnedError{kind: kind, name: desired.GetName()}
	}
	if inSync() && metaInSync(desired, existing) {
		return existing, nil
	}
	// Merge rather than replace: KEDA and others add their own keys.
	existing.SetLabels(merged(existing.GetLabels(), desired.GetLabels()))
	existing.SetAnnotations(merged(existing.GetAnnotations(), desired.GetAnnotations()))
	existing.SetOwnerReferences(desired.GetOwnerReferences())
	copySpec()
	if err := r.client.Update(ctx, existing); err != nil {
		werr := writeError("update", kind, existing, err)
		if !shown(rev, werr) {
			changes.UpdateFailed(r.recorder, rev, kind, existing, err)
		}
		return nil, werr
	}
	written.Updated(kind, existing)
	return existing, nil
}

func metaInSync(desired, existing client.Object) bool {
	contains := func(have, want map[string]string) bool {
		for k, v := range want {
			if hv, ok := have[k]; !ok || hv != v {
				return false
			}
		}
		return true
	}
	return contains(existing.GetLabels(), desired.GetLabels()) &&
		contains(existing.GetAnnotations(), desired.GetAnnotations()) &&
		equality.Semantic.DeepEqual(existing.GetOwnerReferences(), desired.GetOwnerReferences())
}

func merged(base, over map[string]string) map[string]string {
	if len(over) == 0 {
		return base
	}
	out := maps.Clone(base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, over)
	return out
}

func (r *Reconciler) applyDeployment(ctx context.Context, rev *v1.Revision, written *changes.Log, want *appsv1.Deployment, initial int32) (*appsv1.Deployment, error) {
	// Replicas are written once, at create: afterwards they are KEDA's.
	create := want.DeepCopy()
	create.Spec.Replicas = &initial
	have := &appsv1.Deployment{}
	got, err := r.applyChild(ctx, rev, written, "Deployment", create, have,
		func() bool { return equality.Semantic.DeepDerivative(want.Spec, have.Spec) },
		func() {
			replicas := have.Spec.Replicas
			have.Spec = want.Spec
			have.Spec.Replicas = replicas
		})
	if err != nil {
		return nil, err
	}
	return got.(*appsv1.Deployment), nil
}

func (r *Reconciler) applyService(ctx context.Context, rev *v1.Revision, written *changes.Log, want *corev1.Service) error {
	have := &corev1.Service{}
	_, err := r.applyChild(ctx, rev, written, "Service", want, have,
		func() bool {
			return equality.Semantic.DeepDerivative(want.Spec.Ports, have.Spec.Ports) &&
				equality.Semantic.DeepEqual(want.Spec.Selector, have.Spec.Selector)
		},
		func() {
			have.Spec.Ports = want.Spec.Ports
			have.Spec.Selector = want.Spec.Selector
		})
	return err
}

func (r *Reconciler) applyScaledObject(ctx context.Context, rev *v1.Revision, written *changes.Log, want *kedav1alpha1.ScaledObject) (*kedav1alpha1.ScaledObject, error) {
	have := &kedav1alpha1.ScaledObject{}
	got, err := r.applyChild(ctx, rev, written, "ScaledObject", want, have,
		func() bool { return equality.Semantic.DeepDerivative(want.Spec, have.Spec) },
		func() { have.Spec = want.Spec })
	if err != nil {
		return nil, err
	}
	return got.(*kedav1alpha1.ScaledObject), nil
}

func (r *Reconciler) applyEndpointSlice(ctx context.Context, rev *v1.Revision, written *changes.Log, want *discoveryv1.EndpointSlice) error {
	have := &discoveryv1.EndpointSlice{}
	_, err := r.applyChild(ctx, rev, written, "EndpointSlice", want, have,
		func() bool {
			return equality.Semantic.DeepEqual(want.Endpoints, have.Endpoints) &&
				equality.Semantic.DeepEqual(want.Ports, have.Ports) &&
				equality.Semantic.DeepEqual(want.Annotations, have.Annotations)
		},
		func() {
			have.Endpoints, have.Ports = want.Endpoints, want.Ports
			// The hysteresis clock must be removable, so annotations are replaced.
			have.Annotations = want.Annotations
		})
	return err
}
