package app

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/activator"
	"csclr.dev/csclr/pkg/names"
)

// Cache indexes.
const (
	podsByRevision  = "csclr.revision" // namespace/revision label
	slicesByService = "csclr.service"  // namespace/the Service (sliceService)
	listTimeout     = 5 * time.Second
	revisionTimeout = 2 * time.Second // a request may be waiting on it
	defaultTimeoutS = 300
)

func indexCache(ctx context.Context, c cache.Cache) error {
	if err := c.IndexField(ctx, &corev1.Pod{}, podsByRevision, func(o client.Object) []string {
		if rev := o.GetLabels()[serving.RevisionLabelKey]; rev != "" {
			return []string{o.GetNamespace() + "/" + rev}
		}
		return nil
	}); err != nil {
		return err
	}
	return c.IndexField(ctx, &discoveryv1.EndpointSlice{}, slicesByService, func(o client.Object) []string {
		if svc := sliceService(o); svc != "" {
			return []string{o.GetNamespace() + "/" + svc}
		}
		return nil
	})
}

// listers reads everything the activator needs: from the informer cache,
// but Revisions from the API server (reader), once each.
type listers struct {
	cache           cache.Cache
	reader          client.Reader
	systemNamespace string
	activatorSvc    string
}

func (l *listers) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), listTimeout)
}

// RevisionPods implements activator.PodLister.
func (l *listers) RevisionPods(rev activator.Key) []activator.PodInfo {
	ctx, cancel := l.ctx()
	defer cancel()
	var pods corev1.PodList
	if err := l.cache.List(ctx, &pods, client.MatchingFields{podsByRevision: rev.String()}); err != nil {
		return nil
	}
	out := make([]activator.PodInfo, 0, len(pods.Items))
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning {
			continue
		}
		out = append(out, activator.PodInfo{IP: p.Status.PodIP, Ready: podReady(p)})
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Revision implements activator.RevisionLister. Revisions are not cached:
// every activator would hold every revision of the cluster (a whole
// Revision is kilobytes), while it needs the two settings of those it
// serves, and the Balancer keeps them (a revision's spec never changes).
func (l *listers) Revision(rev activator.Key) (activator.RevisionInfo, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), revisionTimeout)
	defer cancel()
	var r servingv1.Revision
	if err := l.reader.Get(ctx, rev, &r); err != nil {
		return activator.RevisionInfo{}, false
	}
	info := activator.RevisionInfo{Timeout: defaultTimeoutS * time.Second}
	if t := positiveSeconds(r.Spec.TimeoutSeconds); t > 0 {
		info.Timeout = t
	}
	info.ResponseStartTimeout = positiveSeconds(r.Spec.ResponseStartTimeoutSeconds)
	info.IdleTimeout = positiveSeconds(r.Spec.IdleTimeoutSeconds)
	if r.Spec.ContainerConcurrency != nil {
		info.ContainerConcurrency = int(*r.Spec.ContainerConcurrency)
	}
	return info, true
}

// positiveSeconds is a revision's optional timeout field as a duration, 0
// when unset or not positive (not applied).
func positiveSeconds(s *int64) time.Duration {
	if s == nil || *s <= 0 {
		return 0
	}
	return time.Duration(*s) * time.Second
}

// readyAddresses lists the ready endpoint addresses of a Service.
func (l *listers) readyAddresses(namespace, service string) []string {
	return l.addresses(namespace, service, true)
}

// addresses lists the endpoint addresses of a Service, only the ready ones
// if readyOnly.
func (l *listers) addresses(namespace, service string, readyOnly bool) []string {
	ctx, cancel := l.ctx()
	defer cancel()
	var slices discoveryv1.EndpointSliceList
	if err := l.cache.List(ctx, &slices, client.MatchingFields{slicesByService: namespace + "/" + service}); err != nil {
		return nil
	}
	var out []string
	for _, s := range slices.Items {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, e := range s.Endpoints {
			if readyOnly && e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			out = append(out, e.Addresses...)
		}
	}
	return out
}

// ReadyPodIPs implements scaler.Targets: the ready endpoints of the
// revision's private Service.
func (l *listers) ReadyPodIPs(rev activator.Key) []string {
	return l.readyAddresses(rev.Namespace, names.PrivateService(rev.Name))
}

// ActivatorIPs implements scaler.Targets and the Signaller's peers: every
// activator, ready or not. A draining one still holds requests (their load
// counts) and may still hold KEDA's stream (it must hear "active"); a
// starting one may get KEDA's stream next.
func (l *listers) ActivatorIPs() []string {
	return l.addresses(l.systemNamespace, l.activatorSvc, false)
}

// Replicas is the number of ready activators (at least one: this one),
// among which revisions' pod capacity is shared.
func (l *listers) Replicas() int {
	return max(1, len(l.readyAddresses(l.systemNamespace, l.activatorSvc)))
}

// Ingresses implements gateway.Lister.
func (l *listers) Ingresses() ([]*networkingv1.Ingress, error) {
	ctx, cancel := l.ctx()
	defer cancel()
	var list networkingv1.IngressList
	if err := l.cache.List(ctx, &list); err != nil {
		return nil, err
	}
	out := make([]*networkingv1.Ingress, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// HTTPRoutes implements gateway.Lister.
func (l *listers) HTTPRoutes() ([]*gatewayv1.HTTPRoute, error) {
	ctx, cancel := l.ctx()
	defer cancel()
	var list gatewayv1.HTTPRouteList
	if err := l.cache.List(ctx, &list); err != nil {
		return nil, err
	}
	out := make([]*gatewayv1.HTTPRoute, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// onChange calls fn with every added, updated or deleted object.
func onChange(fn func(client.Object)) toolscache.ResourceEventHandler {
	obj := func(o any) {
		if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		if co, ok := o.(client.Object); ok {
			fn(co)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    obj,
		UpdateFunc: func(_, n any) { obj(n) },
		DeleteFunc: obj,
	}
}
