package terminating

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// syncedInformer stands in for the namespace watch: only HasSynced is used.
type syncedInformer struct {
	cache.Informer
	synced bool
}

func (s syncedInformer) HasSynced() bool { return s.synced }

func TestClientSendsNoCreateIntoATerminatingNamespace(t *testing.T) {
	now := metav1.Now()
	namespaces := fake.NewClientBuilder().WithObjects(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "live"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "going", DeletionTimestamp: &now, Finalizers: []string{"kubernetes"}}},
	).Build()
	for _, tc := range []struct {
		name        string
		namespace   string
		synced      bool
		wantSent    bool
		wantRefusal bool
	}{
		{name: "live namespace", namespace: "live", synced: true, wantSent: true},
		{name: "terminating namespace", namespace: "going", synced: true, wantRefusal: true},
		{name: "terminating, the watch not synced yet: the API server decides", namespace: "going", wantSent: true},
		{name: "namespace not known yet", namespace: "new", synced: true, wantSent: true},
		{name: "cluster-scoped object", synced: true, wantSent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := 0
			inner := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					sent++
					return c.Create(ctx, obj, opts...)
				},
			}).Build()
			ns := &Namespaces{informer: syncedInformer{synced: tc.synced}, reader: namespaces}
			dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: tc.namespace, Name: "d"}}
			err := Client(inner, ns).Create(context.Background(), dep)
			if got := sent == 1; got != tc.wantSent {
				t.Errorf("create sent: %t; want %t", got, tc.wantSent)
			}
			if Is(err) != tc.wantRefusal {
				t.Errorf("error %v; want the namespace-terminating refusal: %t", err, tc.wantRefusal)
			}
			if tc.wantRefusal && err.Error() != `deployments.apps "d" is forbidden: unable to create new content in namespace going because it is being terminated` {
				t.Errorf("refusal reads %q", err)
			}
			if !tc.wantRefusal && err != nil {
				t.Errorf("create: %v", err)
			}
		})
	}
}

func TestNilNamespacesKnowNothing(t *testing.T) {
	var ns *Namespaces
	if ns.Terminating(context.Background(), "x") {
		t.Error("a nil Namespaces says x terminates")
	}
}

func TestRecorderDropsEventsInATerminatingNamespace(t *testing.T) {
	now := metav1.Now()
	namespaces := fake.NewClientBuilder().WithObjects(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "live"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "going", DeletionTimestamp: &now, Finalizers: []string{"kubernetes"}}},
	).Build()
	inner := events.NewFakeRecorder(10)
	rec := Recorder(inner, &Namespaces{informer: syncedInformer{synced: true}, reader: namespaces})
	for _, ns := range []string{"going", "live"} {
		rec.Eventf(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "d"}}, nil, corev1.EventTypeNormal, "Created", "Create", "in %s", ns)
	}
	close(inner.Events)
	var got []string
	for e := range inner.Events {
		got = append(got, e)
	}
	if len(got) != 1 || got[0] != "Normal Created in live" {
		t.Errorf("events recorded: %q; want only the live namespace's", got)
	}
}
