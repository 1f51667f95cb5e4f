package terminating

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Namespaces tells from a watch of namespaces' metadata whether one is
// being deleted. Until that watch has synced it knows nothing, and says no.
type Namespaces struct {
	informer cache.Informer
	reader   client.Reader
}

// WatchNamespaces registers a watch of every namespace's metadata in c (the
// manager's cache; RBAC must grant list and watch of namespaces). It does
// not wait for the watch to sync, so a missing grant leaves the check
// inert instead of holding up creates.
func WatchNamespaces(ctx context.Context, c cache.Cache) (*Namespaces, error) {
	inf, err := c.GetInformer(ctx, namespaceMeta(), cache.BlockUntilSynced(false))
	if err != nil {
		return nil, fmt.Errorf("watching namespaces: %w", err)
	}
	return &Namespaces{informer: inf, reader: c}, nil
}

// Terminating reports whether namespace ns is known to be being deleted.
func (n *Namespaces) Terminating(ctx context.Context, ns string) bool {
	if n == nil || ns == "" || !n.informer.HasSynced() {
		return false
	}
	m := namespaceMeta()
	if err := n.reader.Get(ctx, client.ObjectKey{Name: ns}, m); err != nil {
		return false
	}
	return m.DeletionTimestamp != nil
}

// Client returns c, except that a create in a namespace that ns knows to be
// terminating fails at once with the error the API server would return,
// without asking it. While the namespace controller deletes a namespace's
// objects, every deleted child wakes its owner, whose reconciler creates it
// again: without this, one refused request per deleted child.
func Client(c client.Client, ns *Namespaces) client.Client {
	return guarded{Client: c, ns: ns}
}

// ForManager returns mgr's client and its event recorder named recorder,
// both guarded by one watch of namespaces in mgr's cache: what a reconciler
// creates and reports through.
func ForManager(mgr manager.Manager, recorder string) (client.Client, events.EventRecorder, error) {
	ns, err := WatchNamespaces(context.Background(), mgr.GetCache())
	if err != nil {
		return nil, nil, err
	}
	return Client(mgr.GetClient(), ns), Recorder(mgr.GetEventRecorder(recorder), ns), nil
}

// Recorder returns r, except that events about an object in a namespace
// that ns knows to be terminating are dropped: the API server would refuse
// them (a deleted namespace's reconciles still report what they do, such
// as a Route's finalizer releasing its revisions).
func Recorder(r events.EventRecorder, ns *Namespaces) events.EventRecorder {
	return guardedRecorder{EventRecorder: r, ns: ns}
}

type guardedRecorder struct {
	events.EventRecorder
	ns *Namespaces
}

func (g guardedRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	if m, err := meta.Accessor(regarding); err == nil && g.ns.Terminating(context.Background(), m.GetNamespace()) {
		return
	}
	g.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

type guarded struct {
	client.Client
	ns *Namespaces
}

func (g guarded) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if g.ns.Terminating(ctx, obj.GetNamespace()) {
		return refusal(g.Client, obj)
	}
	return g.Client.Create(ctx, obj, opts...)
}

// refusal is the NamespaceLifecycle admission plugin's answer to a create
// in a terminating namespace: 403 with cause NamespaceTerminating.
func refusal(c client.Client, obj client.Object) error {
	gr := schema.GroupResource{}
	if gvk, err := apiutil.GVKForObject(obj, c.Scheme()); err == nil {
		// Only for the message: a guess spares a mapping lookup.
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		gr = plural.GroupResource()
	}
	err := apierrors.NewForbidden(gr, obj.GetName(),
		fmt.Errorf("unable to create new content in namespace %s because it is being terminated", obj.GetNamespace()))
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    corev1.NamespaceTerminatingCause,
		Message: fmt.Sprintf("namespace %s is being terminated", obj.GetNamespace()),
		Field:   "metadata.namespace",
	})
	return err
}

func namespaceMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	return m
}
