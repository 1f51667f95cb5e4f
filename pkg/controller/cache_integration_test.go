//go:build integration

package controller

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"knative.dev/serving/pkg/apis/autoscaling"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/internal/testenv"
	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/names"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// conflicts counts the controller's create requests that the API server
// refused with 409 (AlreadyExists), per namespace.
type conflicts struct {
	mu   sync.Mutex
	byNS map[string]int
}

// wrap is a rest.Config's WrapTransport counting into c.
func (c *conflicts) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err == nil && req.Method == http.MethodPost && resp.StatusCode == http.StatusConflict {
			if _, rest, ok := strings.Cut(req.URL.Path, "/namespaces/"); ok {
				ns, _, _ := strings.Cut(rest, "/")
				c.mu.Lock()
				c.byNS[ns]++
				c.mu.Unlock()
			}
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (c *conflicts) in(ns string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byNS[ns]
}

// The whole controller, as New builds it, on an apiserver of its own:
//
//   - its cache holds csclr's children and not the objects of the same
//     kinds a user made in the same namespace;
//   - a child whose csclr label a user removed (so that it left the cache)
//     is relabelled and back in the cache, after one refused create each,
//     not a retry loop;
//   - a user's object without csclr's labels that takes a child's name is
//     reported NotOwned, as before the caches were scoped.
func TestScopedCaches(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.Start(t, scheme)
	k8s := env.Client
	const sys, ns, taken = config.DefaultSystemNamespace, "app", "taken"
	ctx := t.Context()
	for _, n := range []string{sys, ns, taken} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}

	// A user's objects of every scoped kind, without csclr's labels.
	user := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "mine"}}
	}
	podSpec := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mine"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/mine"}}},
	}
	users := []client.Object{
		&appsv1.Deployment{ObjectMeta: user("mine"), Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mine"}}, Template: podSpec,
		}},
		&corev1.Service{ObjectMeta: user("mine"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		&discoveryv1.EndpointSlice{ObjectMeta: user("mine"), AddressType: discoveryv1.AddressTypeIPv4},
		&kedav1alpha1.ScaledObject{ObjectMeta: user("mine"), Spec: kedav1alpha1.ScaledObjectSpec{
			ScaleTargetRef: &kedav1alpha1.ScaleTarget{Name: "mine"},
			Triggers:       []kedav1alpha1.ScaleTriggers{{Type: "cpu", Metadata: map[string]string{"value": "50"}}},
		}},
		&gatewayv1.HTTPRoute{ObjectMeta: user("mine")},
		&networkingv1.Ingress{ObjectMeta: user("mine"), Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "mine", Port: networkingv1.ServiceBackendPort{Number: 80}},
		}}},
		// Names the "taken" Service's revision and route want.
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: taken, Name: names.Deployment("taken-00001")}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "mine"}}, Template: podSpec,
		}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: taken, Name: names.RouteService("taken")},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
	}
	for _, o := range users {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}

	// Revisions at initial scale 0 become Ready without pods (there is no
	// kubelet), so that the Routes write their HTTPRoutes and Ingresses.
	createConfigMap(t, k8s, sys, config.AutoscalerName, map[string]string{"allow-zero-initial-scale": "true"})

	count := &conflicts{byNS: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(count.wrap)
	mgr, _, err := New(cfg, Options{SystemNamespace: sys, MetricsAddr: "0", ProbeAddr: "0", SkipNameValidation: true})
	if err != nil {
		t.Fatal(err)
	}
	testenv.RunManager(t, mgr)

	// ko.local is among Knative's registries-skipping-tag-resolving: no
	// registry is asked for a digest.
	for _, n := range []string{ns, taken} {
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: n, Name: map[string]string{ns: "hello", taken: "taken"}[n]},
			Spec: v1.ServiceSpec{ConfigurationSpec: v1.ConfigurationSpec{Template: v1.RevisionTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{autoscaling.InitialScaleAnnotationKey: "0"}},
				Spec:       v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ko.local/hello:v1"}}}},
			}}},
		}
		if err := k8s.Create(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}

	const rev = "hello-00001"
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
	// csclr's children of every scoped kind, and the label the test
	// removes from some of them.
	type child struct {
		obj   client.Object
		label string // "" : left alone
	}
	ours := []child{
		{&appsv1.Deployment{}, serving.RevisionLabelKey},
		{&corev1.Service{}, revresources.ManagedByLabelKey}, // the revision's public Service
		{&discoveryv1.EndpointSlice{}, discoveryv1.LabelManagedBy},
		{&kedav1alpha1.ScaledObject{}, ""},
		{&gatewayv1.HTTPRoute{}, serving.RouteLabelKey},
		{&networkingv1.Ingress{}, ""},
		{&corev1.Service{}, revresources.ManagedByLabelKey}, // the Route's apex Service
	}
	for i, name := range []string{names.Deployment(rev), names.PublicService(rev), names.PublicEndpointSlice(rev),
		names.ScaledObject(rev), names.HTTPRoute("hello"), names.Ingress("hello"), names.RouteService("hello")} {
		ours[i].obj.SetNamespace(ns)
		ours[i].obj.SetName(name)
	}
	inCache := func(what string, c child) {
		t.Helper()
		waitFor(t, what, func() error {
			return mgr.GetCache().Get(ctx, client.ObjectKeyFromObject(c.obj), c.obj.DeepCopyObject().(client.Object))
		})
	}
	for _, c := range ours {
		inCache(fmt.Sprintf("%T %s in the manager's cache", c.obj, c.obj.GetName()), c)
	}

	t.Run("user objects are not cached", func(t *testing.T) {
		// The informers listed them at start: they are not in the cache
		// because the selectors leave them out, not because of a delay.
		for _, o := range users[:6] {
			got := o.DeepCopyObject().(client.Object)
			if err := mgr.GetCache().Get(ctx, client.ObjectKeyFromObject(o), got); !apierrors.IsNotFound(err) {
				t.Errorf("%T %s/%s from the cache: err = %v, want NotFound", o, o.GetNamespace(), o.GetName(), err)
			}
		}
		deps := &appsv1.DeploymentList{}
		if err := mgr.GetCache().List(ctx, deps, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range deps.Items {
			got = append(got, d.Name)
		}
		if want := []string{names.Deployment(rev)}; !slices.Equal(got, want) {
			t.Errorf("cached Deployments of %s = %v, want %v", ns, got, want)
		}
		svcs := &corev1.ServiceList{}
		if err := mgr.GetCache().List(ctx, svcs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, s := range svcs.Items {
			got = append(got, s.Name)
		}
		slices.Sort(got)
		if want := []string{"hello", rev, names.PrivateService(rev)}; !slices.Equal(got, want) {
			t.Errorf("cached Services of %s = %v, want %v", ns, got, want)
		}
	})

	t.Run("not owned", func(t *testing.T) {
		waitFor(t, "revision taken-00001 NotOwned", func() error {
			r := &v1.Revision{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: taken, Name: "taken-00001"}, r); err != nil {
				return err
			}
			if c := r.Status.GetCondition(v1.RevisionConditionResourcesAvailable); c == nil || c.Reason != v1.ReasonNotOwned {
				return fmt.Errorf("ResourcesAvailable = %+v", c)
			}
			return nil
		})
		waitFor(t, "route taken NotOwned", func() error {
			r := &v1.Route{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: taken, Name: "taken"}, r); err != nil {
				return err
			}
			if c := r.Status.GetCondition(v1.RouteConditionIngressReady); c == nil || c.Reason != "NotOwned" {
				return fmt.Errorf("IngressReady = %+v", c)
			}
			return nil
		})
		// The user's objects are untouched.
		dep := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: taken, Name: names.Deployment("taken-00001")}, dep); err != nil {
			t.Fatal(err)
		}
		if len(dep.Labels) != 0 || len(dep.OwnerReferences) != 0 {
			t.Errorf("the user's Deployment was changed: labels %v, owners %v", dep.Labels, dep.OwnerReferences)
		}
	})

	t.Run("a child without its label is relabelled", func(t *testing.T) {
		settled := []client.Object{&v1.Revision{}, &v1.Route{}}
		settled[0].SetNamespace(ns)
		settled[0].SetName(rev)
		settled[1].SetNamespace(ns)
		settled[1].SetName("hello")
		for _, c := range ours {
			settled = append(settled, c.obj)
		}
		testenv.WaitSettled(t, k8s, 3*time.Second, 30*time.Second, settled...)
		before := count.in(ns)

		removed := 0
		for _, c := range ours {
			if c.label == "" {
				continue
			}
			removed++
			waitFor(t, fmt.Sprintf("removing %s from %T %s", c.label, c.obj, c.obj.GetName()), func() error {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(c.obj), c.obj); err != nil {
					return err
				}
				labels := c.obj.GetLabels()
				delete(labels, c.label)
				c.obj.SetLabels(labels)
				return k8s.Update(ctx, c.obj)
			})
		}
		for _, c := range ours {
			if c.label == "" {
				continue
			}
			waitFor(t, fmt.Sprintf("%s back on %T %s", c.label, c.obj, c.obj.GetName()), func() error {
				if err := k8s.Get(ctx, key(c.obj.GetName()), c.obj); err != nil {
					return err
				}
				if _, ok := c.obj.GetLabels()[c.label]; !ok {
					return fmt.Errorf("labels %v", c.obj.GetLabels())
				}
				return nil
			})
			inCache(fmt.Sprintf("%T %s back in the manager's cache", c.obj, c.obj.GetName()), c)
		}
		testenv.WaitSettled(t, k8s, 3*time.Second, 30*time.Second, settled...)
		// One refused create per relabelled child (a second one if a
		// reconcile ran before the update reached the cache), then none.
		after := count.in(ns)
		t.Logf("%d creates refused with AlreadyExists for %d children without their label", after-before, removed)
		if n := after - before; n < removed || n > 2*removed {
			t.Errorf("%d creates refused with AlreadyExists for %d children without their label, want %d to %d", n, removed, removed, 2*removed)
		}
		time.Sleep(3 * time.Second)
		if n := count.in(ns) - after; n != 0 {
			t.Errorf("%d more creates refused with AlreadyExists after the children settled", n)
		}
		d := &appsv1.Deployment{}
		if err := k8s.Get(ctx, key(names.Deployment(rev)), d); err != nil {
			t.Fatal(err)
		}
		if ref := metav1.GetControllerOf(d); d.Labels[serving.RevisionLabelKey] != rev || ref == nil || ref.Kind != "Revision" || ref.Name != rev {
			t.Errorf("Deployment labels %v, controller %+v", d.Labels, ref)
		}
	})
}
