package controller

import (
	"context"
	"reflect"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
	routeresources "csclr.dev/csclr/pkg/reconciler/route/resources"
)

// cached says whether opts' cache holds obj, judged by its type, namespace
// and labels as controller-runtime applies ByObject (a namespace's own
// config, else cache.AllNamespaces', else the type's selector). A type
// without an entry is cached whole.
func cached(t *testing.T, opts cache.Options, obj client.Object) bool {
	t.Helper()
	for key, by := range opts.ByObject {
		if reflect.TypeOf(key) != reflect.TypeOf(obj) {
			continue
		}
		sel := by.Label
		if by.Namespaces != nil {
			cfg, ok := by.Namespaces[obj.GetNamespace()]
			if !ok {
				if cfg, ok = by.Namespaces[cache.AllNamespaces]; !ok {
					return false
				}
			}
			if cfg.LabelSelector != nil {
				sel = cfg.LabelSelector
			}
		}
		return sel == nil || sel.Matches(labels.Set(obj.GetLabels()))
	}
	return true
}

// Every child csclr builds, of a Revision and a Route that carry no labels
// of their own (not made by a Service), is in the cache; the same kinds
// without csclr's labels are not, except EndpointSlices in the system
// namespace (the activator's).
func TestCacheOptionsSelectCsclrsChildren(t *testing.T) {
	const sys = "csclr-system"
	opts := CacheOptions(sys)
	ctx := config.NewStore(sys).ToContext(context.Background())

	rev := &v1.Revision{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello-00001", UID: "rev-uid"},
		Spec: v1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{
			Image: "registry.example/hello:v1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}}},
	}
	rev.SetDefaults(ctx)
	cfg := revresources.DefaultConfig()
	dep, err := revresources.MakeDeployment(rev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	so, err := revresources.MakeScaledObject(rev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	route := &v1.Route{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hello", UID: "route-uid"}}
	ing, err := routeresources.MakeIngress(ctx, route, nil, "csclr")
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", Labels: dep.Spec.Template.Labels}}
	ours := []client.Object{
		dep, so, pod,
		revresources.MakePrivateService(rev),
		revresources.MakePublicService(rev),
		revresources.MakeEndpointSlice(rev, revresources.ModeState{Mode: revresources.ModeProxy}, nil, nil),
		revresources.MakeEndpointSlice(rev, revresources.ModeState{Mode: revresources.ModeServe}, nil, nil),
		routeresources.MakeService(route),
		routeresources.MakeEndpointSlice(route, nil),
		routeresources.MakeHTTPRoute(ctx, route, nil, nil),
		ing,
	}
	for _, o := range ours {
		if !cached(t, opts, o) {
			t.Errorf("%T %s with labels %v is not cached", o, o.GetName(), o.GetLabels())
		}
	}

	user := metav1.ObjectMeta{Namespace: "ns", Name: "mine", Labels: map[string]string{"app": "mine"}}
	// What Kubernetes' EndpointSlice controller writes for a revision's
	// private Service: its labels, but another manager.
	mirrored := &discoveryv1.EndpointSlice{ObjectMeta: *revresources.MakePrivateService(rev).ObjectMeta.DeepCopy()}
	mirrored.Labels[discoveryv1.LabelManagedBy] = "endpointslice-controller.k8s.io"
	for _, o := range []client.Object{
		&appsv1.Deployment{ObjectMeta: user},
		&kedav1alpha1.ScaledObject{ObjectMeta: user},
		&corev1.Pod{ObjectMeta: user},
		&corev1.Service{ObjectMeta: user},
		&discoveryv1.EndpointSlice{ObjectMeta: user},
		mirrored,
		&gatewayv1.HTTPRoute{ObjectMeta: user},
		&networkingv1.Ingress{ObjectMeta: user},
		&corev1.ConfigMap{ObjectMeta: user},
		&corev1.Secret{ObjectMeta: user},
	} {
		if cached(t, opts, o) {
			t.Errorf("%T %s/%s with labels %v is cached", o, o.GetNamespace(), o.GetName(), o.GetLabels())
		}
	}

	activator := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: "csclr-activator-x",
		Labels: map[string]string{discoveryv1.LabelServiceName: revresources.ActivatorService, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}}}
	if !cached(t, opts, activator) {
		t.Error("the activator's EndpointSlice is not cached")
	}
	if cm := (&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: config.DeploymentName}}); !cached(t, opts, cm) {
		t.Error("the system namespace's ConfigMaps are not cached")
	}
	// A revision's pods carry the label the Pod cache selects.
	if _, ok := dep.Spec.Template.Labels[serving.RevisionLabelKey]; !ok {
		t.Errorf("pod template labels %v lack %s", dep.Spec.Template.Labels, serving.RevisionLabelKey)
	}
}
