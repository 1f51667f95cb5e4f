package revision

import (
	"context"
	"errors"
	"fmt"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrs "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/reconciler/changes"
	"csclr.dev/csclr/pkg/reconciler/children"
	"csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// digestRetry is how soon a failed digest resolution is tried again.
const digestRetry = 30 * time.Second

// Reconciler reconciles one Revision at a time.
type Reconciler struct {
	client client.Client
	// reader reads without the cache, which holds only the children that
	// carry csclr's labels (see package children).
	reader client.Reader

	config   func(context.Context) Config
	clock    clock.PassiveClock
	resolver DigestResolver
	recorder events.EventRecorder
}

// Reconcile makes a Revision's children agree with it and writes its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rev := &v1.Revision{}
	if err := r.client.Get(ctx, req.NamespacedName, rev); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if rev.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // children go with it through their owner references
	}
	cfg := r.config(ctx)
	orig := rev.DeepCopy()
	var written changes.Log
	res, err := r.reconcile(ctx, rev, cfg, &written)
	written.Record(r.recorder, rev)
	if serr := r.writeStatus(ctx, orig, rev); serr != nil {
		return ctrl.Result{}, errors.Join(err, serr)
	}
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context, rev *v1.Revision, cfg Config, written *changes.Log) (ctrl.Result, error) {
	st := &rev.Status
	// A revision never reconciled has no EndpointSlice yet: no need to
	// look for one the cache cannot see.
	reconciledBefore := st.ObservedGeneration > 0
	st.InitializeConditions()
	st.ObservedGeneration = rev.Generation
	if !r.resolveDigests(ctx, rev, cfg) {
		return ctrl.Result{RequeueAfter: digestRetry}, nil
	}

	dep, err := resources.MakeDeployment(rev, cfg)
	var so *kedav1alpha1.ScaledObject
	if err == nil {
		so, err = resources.MakeScaledObject(rev, cfg)
	}
	if err != nil {
		// The revision (or the cluster config) is invalid; retrying won't help.
		st.MarkResourcesAvailableFalse("InvalidSpec", err.Error())
		return ctrl.Result{}, nil
	}
	initial := resources.InitialReplicas(rev, cfg)

	haveDep, err := r.applyDeployment(ctx, rev, written, dep, initial)
	if err == nil {
		err = r.applyService(ctx, rev, written, resources.MakePrivateService(rev))
	}
	if err == nil {
		err = r.applyService(ctx, rev, written, resources.MakePublicService(rev))
	}
	haveSO, soErr := r.applyScaledObject(ctx, rev, written, so)
	if err == nil {
		err = soErr
	}
	if err != nil {
		return ctrl.Result{}, r.childFailure(rev, err)
	}

	pods, ready, err := r.revisionPods(ctx, rev)
	if err != nil {
		return ctrl.Result{}, err
	}
	recheck, err := r.reconcileEndpoints(ctx, rev, cfg, written, ready, reconciledBefore)
	if err != nil {
		return ctrl.Result{}, r.childFailure(rev, err)
	}
	now := r.clock.Now()
	computeStatus(rev, observed{
		Deployment: haveDep, ScaledObject: haveSO, Pods: pods,
		ReadyPods: len(ready), InitialReplicas: initial, Now: now,
	})
	return ctrl.Result{RequeueAfter: earliest(recheck, untilDeadline(rev, haveDep, initial, now))}, nil
}

// childFailure marks the revision failed for err, the failure to write a
// child, and returns what the reconcile returns. A child it does not own
// fails it with no retry: the revision or the child changing is what
// reconciles it again. A child the API server refuses fails it too, as
// Knative fails a PodAutoscaler whose HPA it cannot create, but is retried
// (with the controller's back-off): a webhook, a policy or a quota may
// change. Any other error is transient: the revision stays as it was.
func (r *Reconciler) childFailure(rev *v1.Revision, err error) error {
	var nerr notOwnedError
	var ref refusedError
	switch {
	case errors.As(err, &nerr):
		rev.Status.MarkResourcesAvailableFalse(v1.ReasonNotOwned, nerr.Error())
		r.event(rev, corev1.EventTypeWarning, v1.ReasonNotOwned, "%s", nerr.Error())
		return nil
	case errors.As(err, &ref):
		rev.Status.MarkResourcesAvailableFalse(ref.reason, escapePercent(ref.message))
	}
	return err
}

// resolveDigests fills status.containerStatuses once (a revision's images
// never change). It reports whether the revision may proceed.
func (r *Reconciler) resolveDigests(ctx context.Context, rev *v1.Revision, cfg Config) bool {
	containers := rev.Spec.Containers
	if len(rev.Status.ContainerStatuses) == len(containers) {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Deployment.DigestResolutionTimeout)
	defer cancel()
	statuses := make([]v1.ContainerStatus, 0, len(containers))
	for _, c := range containers {
		digest, err := r.resolver.Resolve(ctx, c.Image, PullSecretsOf(rev), cfg.Deployment.RegistriesSkippingTagResolving)
		if err != nil {
			msg := v1.RevisionContainerMissingMessage(c.Image, err.Error()+
				" (check that the image exists and the controller can reach its registry)")
			rev.Status.MarkContainerHealthyFalse(v1.ReasonContainerMissing, msg)
			r.event(rev, corev1.EventTypeWarning, v1.ReasonContainerMissing, "%s", msg)
			return false
		}
		statuses = append(statuses, v1.ContainerStatus{Name: c.Name, ImageDigest: digest})
	}
	rev.Status.ContainerStatuses = statuses
	if c := rev.Status.GetCondition(v1.RevisionConditionContainerHealthy); c != nil && c.Reason == v1.ReasonContainerMissing {
		rev.Status.MarkContainerHealthyUnknown(v1.ReasonDeploying, deployingMessage)
	}
	return true
}

// revisionPods lists the revision's pods and the endpoints of the ready ones.
func (r *Reconciler) revisionPods(ctx context.Context, rev *v1.Revision) ([]corev1.Pod, []discoveryv1.Endpoint, error) {
	var list corev1.PodList
	if err := r.client.List(ctx, &list, client.InNamespace(rev.Namespace),
		client.MatchingLabels{serving.RevisionUID: string(rev.UID)}); err != nil {
		return nil, nil, fmt.Errorf("listing the pods of revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	var ready []discoveryv1.Endpoint
	for i := range list.Items {
		p := &list.Items[i]
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" || !podReady(p) {
			continue
		}
		ep := discoveryv1.Endpoint{
			Addresses: []string{p.Status.PodIP},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		}
		if p.Spec.NodeName != "" {
			ep.NodeName = &p.Spec.NodeName
		}
		ready = append(ready, ep)
	}
	return list.Items, ready, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// reconcileEndpoints decides serve or proxy and writes the public
// EndpointSlice. It returns when to decide again (hysteresis), or 0.
func (r *Reconciler) reconcileEndpoints(ctx context.Context, rev *v1.Revision, cfg Config, written *changes.Log, ready []discoveryv1.Endpoint, reconciledBefore bool) (time.Duration, error) {
	// The slice keeps the mode and its hysteresis clock: read it without
	// the cache if the cache does not have it (a user removed its label),
	// once the revision has been reconciled (before, there is none).
	current := &discoveryv1.EndpointSlice{}
	key := client.ObjectKey{Namespace: rev.Namespace, Name: names.PublicEndpointSlice(rev.Name)}
	err := children.Get(ctx, r.client, r.reader, key, current, reconciledBefore)
	if apierrs.IsNotFound(err) {
		current = nil
	} else if err != nil {
		return 0, fmt.Errorf("reading EndpointSlice %s/%s: %w", rev.Namespace, names.PublicEndpointSlice(rev.Name), err)
	}
	was := resources.ModeStateOf(current)
	next, recheck := resources.DecideMode(len(ready), resources.MinReadyForServe(rev, cfg), was, r.clock.Now())
	activators, err := r.activatorEndpoints(ctx, cfg)
	if err != nil {
		return 0, err
	}
	if err := r.applyEndpointSlice(ctx, rev, written, resources.MakeEndpointSlice(rev, next, ready, activators)); err != nil {
		return 0, err
	}
	if current != nil && next.Mode != was.Mode {
		r.event(rev, corev1.EventTypeNormal, "EndpointsMode", "Traffic now goes to the %s (%d ready pods)", map[resources.Mode]string{
			resources.ModeServe: "revision's pods", resources.ModeProxy: "activator",
		}[next.Mode], len(ready))
	}
	return recheck, nil
}

// activatorEndpoints are the ready endpoints of the activator's Service.
func (r *Reconciler) activatorEndpoints(ctx context.Context, cfg Config) ([]discoveryv1.Endpoint, error) {
	var list discoveryv1.EndpointSliceList
	if err := r.client.List(ctx, &list, client.InNamespace(cfg.SystemNamespace),
		client.MatchingLabels{discoveryv1.LabelServiceName: resources.ActivatorService}); err != nil {
		return nil, fmt.Errorf("listing the EndpointSlices of Service %s/%s: %w", cfg.SystemNamespace, resources.ActivatorService, err)
	}
	var out []discoveryv1.Endpoint
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				out = append(out, discoveryv1.Endpoint{Addresses: e.Addresses, NodeName: e.NodeName, TargetRef: e.TargetRef})
			}
		}
	}
	return out, nil
}

// writeStatus writes the status when it changed, observedGeneration and
// conditions together, and records failures and recoveries as events (not
// the first Ready=True: a thousand new revisions would be a thousand writes
// that tell nothing the status does not), and the scale crossing zero. The
// events follow a successful write only: the write is what makes the next
// reconcile see the new state, so an event before it could be repeated.
func (r *Reconciler) writeStatus(ctx context.Context, orig, rev *v1.Revision) error {
	fillEmptyMessages(&rev.Status)
	if equality.Semantic.DeepEqual(orig.Status, rev.Status) {
		return nil
	}
	if err := r.client.Status().Update(ctx, rev); err != nil {
		changes.StatusUpdateFailed(r.recorder, rev, err)
		return fmt.Errorf("writing the status of revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	switch before, after := readyStatus(orig), readyStatus(rev); {
	case before == after:
	case after == corev1.ConditionFalse:
		c := rev.Status.GetCondition(v1.RevisionConditionReady)
		r.event(rev, corev1.EventTypeWarning, c.Reason, "Revision is not ready: %s", c.Message)
	case before == corev1.ConditionFalse:
		r.event(rev, corev1.EventTypeNormal, "Ready"+string(after), "Revision Ready is %s", after)
	}
	r.scaleEvent(orig, rev)
	return nil
}

func (r *Reconciler) event(rev *v1.Revision, eventType, reason, format string, args ...any) {
	if r.recorder == nil {
		return
	}
	r.recorder.Eventf(rev, nil, eventType, reason, "Reconcile", format, args...)
}
