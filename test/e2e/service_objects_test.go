//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"csclr.dev/csclr/pkg/devcluster"
)

// What the content checks expect, from the builders and config/core:
//   - the serving container is Knative's default "user-container" and the
//     sidecar is "queue-proxy" (revision/resources.QueueContainerName);
//   - PORT is the serving container's port, 8080 when none is declared;
//   - the ScaledObject's trigger is "external-push" to the scaler on the
//     activator's Service (revision/resources.DefaultConfig: config/core
//     gives the controller no --scaler-address; 400-activator.yaml serves
//     gRPC on 9093);
//   - the HTTPRoute's parent is the apex Service's port 80 (GAMMA), and
//     the Ingress sends every host of the Route to the apex Service's port 80
//     (route/resources, ROUTING.md).
const (
	userContainerName  = "user-container"
	queueContainerName = "queue-proxy"
	defaultUserPort    = "8080"
	scalerAddress      = "csclr-activator.csclr-system.svc.cluster.local:9093"
	apexPort           = 80
)

var (
	configurationGVR = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "configurations"}
	routeGVR         = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "routes"}
	deploymentGVR    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	replicaSetGVR    = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	serviceGVR       = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	endpointSliceGVR = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	hpaGVR           = schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}
)

// checkRevisionObjects checks the content of a Ready revision's Deployment,
// ScaledObject and Services. minScale and maxScale are the ScaledObject's
// expected minReplicaCount and maxReplicaCount.
func checkRevisionObjects(t *testing.T, ctx context.Context, ns, service, rev string, minScale, maxScale int64) {
	t.Helper()
	dep, err := cluster.kube.AppsV1().Deployments(ns).Get(ctx, rev+"-deployment", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Deployment of %s: %v", rev, err)
	}
	if ref := metav1.GetControllerOf(dep); ref == nil || ref.Kind != "Revision" || ref.Name != rev {
		t.Errorf("Deployment %s: controller %+v, want Revision %s", dep.Name, ref, rev)
	}
	var names []string
	for _, c := range dep.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{userContainerName, queueContainerName}) {
		t.Errorf("Deployment %s: containers %v, want [%s %s]", dep.Name, names, userContainerName, queueContainerName)
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		switch c.Name {
		case userContainerName:
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			want := map[string]string{"PORT": defaultUserPort, "K_SERVICE": service, "K_CONFIGURATION": service, "K_REVISION": rev}
			for k, v := range want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("Deployment %s: %s env %s = %q (set: %v), want %q", dep.Name, c.Name, k, got, ok, v)
				}
			}
		case queueContainerName:
			if c.Image == "" || c.ReadinessProbe == nil {
				t.Errorf("Deployment %s: queue sidecar without image or readiness probe: %+v", dep.Name, c)
			}
		}
	}

	// The bounds follow the revision's routing state, which the Route
	// writes as it moves traffic: they may lag the Service's Ready by a
	// reconcile.
	var so *unstructured.Unstructured
	eventually(t, ctx, fmt.Sprintf("ScaledObject %s min/max replicas %d/%d", rev, minScale, maxScale), func() error {
		var err error
		if so, err = dynamicClient(t).Resource(scaledObjectGVR).Namespace(ns).Get(ctx, rev, metav1.GetOptions{}); err != nil {
			return err
		}
		return scaleBoundsError(so, minScale, maxScale)
	})
	if target, _, _ := unstructured.NestedString(so.Object, "spec", "scaleTargetRef", "name"); target != rev+"-deployment" {
		t.Errorf("ScaledObject %s: scaleTargetRef.name %q, want %s-deployment", rev, target, rev)
	}
	triggers, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	if len(triggers) != 1 {
		t.Fatalf("ScaledObject %s: triggers %v, want one external-push trigger", rev, triggers)
	}
	trigger, _ := triggers[0].(map[string]any)
	meta, _, _ := unstructured.NestedStringMap(trigger, "metadata")
	if trigger["type"] != "external-push" || meta["scalerAddress"] != scalerAddress || meta["namespace"] != ns || meta["revision"] != rev {
		t.Errorf("ScaledObject %s: trigger %v, want type external-push, scalerAddress %s, namespace %s, revision %s",
			rev, trigger, scalerAddress, ns, rev)
	}

	// <rev> is selectorless (the controller writes its endpoints); <rev>-private selects the pods.
	for _, name := range []string{rev, rev + "-private"} {
		svc, err := cluster.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("Service %s: %v", name, err)
			continue
		}
		if hasSelector := len(svc.Spec.Selector) > 0; hasSelector != (name != rev) {
			t.Errorf("Service %s: selector %v", name, svc.Spec.Selector)
		}
	}
}

// scaleBoundsError says how the ScaledObject's minReplicaCount and
// maxReplicaCount differ from the expected ones.
func scaleBoundsError(so *unstructured.Unstructured, minScale, maxScale int64) error {
	lo, _, _ := unstructured.NestedInt64(so.Object, "spec", "minReplicaCount")
	hi, _, _ := unstructured.NestedInt64(so.Object, "spec", "maxReplicaCount")
	if lo != minScale || hi != maxScale {
		return fmt.Errorf("ScaledObject %s: min/max replicas %d/%d, want %d/%d", so.GetName(), lo, hi, minScale, maxScale)
	}
	return nil
}

// checkRouteObjects checks the content of the apex Service, HTTPRoute and
// Ingress of the Route of the Ready ksvc svc.
func checkRouteObjects(t *testing.T, ctx context.Context, svc *unstructured.Unstructured) {
	t.Helper()
	ns, route := svc.GetNamespace(), svc.GetName()
	apex, err := cluster.kube.CoreV1().Services(ns).Get(ctx, route, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("apex Service %s: %v", route, err)
	}
	if len(apex.Spec.Selector) > 0 || apex.Labels["serving.knative.dev/route"] != route {
		t.Errorf("apex Service %s: selector %v, labels %v: want no selector and label serving.knative.dev/route=%s",
			route, apex.Spec.Selector, apex.Labels, route)
	}

	dyn := dynamicClient(t)
	hr, err := dyn.Resource(httpRouteGVR).Namespace(ns).Get(ctx, route, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("HTTPRoute %s: %v", route, err)
	}
	parents, _, _ := unstructured.NestedSlice(hr.Object, "spec", "parentRefs")
	if len(parents) != 1 {
		t.Errorf("HTTPRoute %s: parentRefs %v, want the apex Service only", route, parents)
	} else {
		p, _ := parents[0].(map[string]any)
		group, hasGroup := p["group"]
		if !hasGroup || group != "" || p["kind"] != "Service" || p["name"] != route || fmt.Sprint(p["port"]) != fmt.Sprint(apexPort) {
			t.Errorf("HTTPRoute %s: parentRef %v, want {group: \"\", kind: Service, name: %s, port: %d}", route, p, route, apexPort)
		}
	}

	ing, err := cluster.kube.NetworkingV1().Ingresses(ns).Get(ctx, route, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Ingress %s: %v", route, err)
	}
	if class := ingressClass(t, ctx); ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != class {
		t.Errorf("Ingress %s: ingressClassName %v, want %q (config-network)", route, ing.Spec.IngressClassName, class)
	}
	// The public main host alone, under the Route's domain (which is the
	// cluster-local svc.<cluster> when config-domain names none): an
	// Ingress publishes its hosts, and in-cluster callers reach the apex
	// Service without one.
	urlHost := hostOf(svc, "status", "url")
	addressHost := hostOf(svc, "status", "address", "url")
	if !strings.HasPrefix(urlHost, route+"."+ns+".") || addressHost != route+"."+ns+".svc.cluster.local" {
		t.Errorf("ksvc %s: status.url host %q, status.address.url host %q", route, urlHost, addressHost)
	}
	want := []string{urlHost}
	var hosts []string
	for _, r := range ing.Spec.Rules {
		hosts = append(hosts, r.Host)
		var paths []string
		if r.HTTP != nil {
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil || b.Name != route || b.Port.Number != apexPort {
					t.Errorf("Ingress %s: host %s path %s goes to %+v, want Service %s port %d", route, r.Host, p.Path, p.Backend, route, apexPort)
				}
				paths = append(paths, p.Path)
			}
		}
		if !slices.Equal(paths, []string{"/"}) {
			t.Errorf("Ingress %s: host %s paths %v, want [/]", route, r.Host, paths)
		}
	}
	if !slices.Equal(hosts, want) {
		t.Errorf("Ingress %s: hosts %v, want %v", route, hosts, want)
	}
}

func hostOf(obj *unstructured.Unstructured, fields ...string) string {
	u, _, _ := unstructured.NestedString(obj.Object, fields...)
	return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
}

// ingressClass is config-network's ingress class, csclr's "csclr" unless set
// (pkg/config.parseNetwork; "ingress.class" is Knative's legacy key).
func ingressClass(t *testing.T, ctx context.Context) string {
	t.Helper()
	cm, err := cluster.kube.CoreV1().ConfigMaps("csclr-system").Get(ctx, "config-network", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("config-network: %v", err)
	}
	for _, key := range []string{"ingress-class", "ingress.class"} {
		if c, ok := cm.Data[key]; ok {
			return c
		}
	}
	return "csclr"
}

// waitAnsweredBy waits until requests for host through the gateway are
// answered by revision (the test app's X-Revision is its K_REVISION), then
// checks that the next ones are too.
func waitAnsweredBy(t *testing.T, ctx context.Context, host, revision, body string) {
	t.Helper()
	c := newClient(t, ctx, host, time.Minute)
	eventually(t, ctx, "requests for "+host+" answered by "+revision, func() error {
		r, err := c.get(ctx, "/")
		if err != nil {
			return err
		}
		if got := r.header.Get("X-Revision"); r.status != 200 || got != revision {
			return fmt.Errorf("%d %q from %q", r.status, r.body, got)
		}
		return nil
	})
	for i := 0; i < 5; i++ {
		r := c.mustGet(t, ctx, "/", 200)
		if got := r.header.Get("X-Revision"); got != revision || r.body != body {
			t.Errorf("request %d after the switch: %q from %q, want %q from %s", i+1, r.body, got, body, revision)
		}
	}
}

// deleteKsvcAndWaitGone deletes the ksvc with kubectl and waits (up to
// limit) until it and everything made for it are gone: its Configuration
// and Route, the revisions' Deployments, ScaledObjects and Services, the
// Route's apex Service, HTTPRoute and Ingress, and anything else labelled
// with the Service's name.
func deleteKsvcAndWaitGone(t *testing.T, ctx context.Context, ns, name string, revisions []string, limit time.Duration) {
	t.Helper()
	out, err := kubectl(ctx, "-n", ns, "delete", "ksvc", name, "--wait=false")
	if err != nil {
		t.Fatalf("kubectl delete ksvc %s: %v\n%s", name, err, out)
	}
	type object struct {
		kind string
		gvr  schema.GroupVersionResource
		name string
	}
	named := []object{
		{"Service (Knative)", ksvcGVR, name},
		{"Configuration", configurationGVR, name},
		{"Route", routeGVR, name},
		{"Service (apex)", serviceGVR, name},
		{"HTTPRoute", httpRouteGVR, name},
		{"Ingress", ingressGVR, name},
	}
	for _, rev := range revisions {
		named = append(named,
			object{"Revision", revisionGVR, rev},
			object{"Deployment", deploymentGVR, rev + "-deployment"},
			object{"ScaledObject", scaledObjectGVR, rev},
			object{"Service", serviceGVR, rev},
			object{"Service", serviceGVR, rev + "-private"},
		)
	}
	labelled := map[string]schema.GroupVersionResource{
		"Revision": revisionGVR, "Deployment": deploymentGVR, "ReplicaSet": replicaSetGVR, "ScaledObject": scaledObjectGVR,
		"HorizontalPodAutoscaler": hpaGVR, "Service": serviceGVR, "EndpointSlice": endpointSliceGVR,
		"HTTPRoute": httpRouteGVR, "Ingress": ingressGVR, "Configuration": configurationGVR, "Route": routeGVR,
	}
	selector := "serving.knative.dev/service=" + name

	dyn := dynamicClient(t)
	describe := func(kind string, o *unstructured.Unstructured) string {
		s := kind + " " + o.GetName()
		if ts := o.GetDeletionTimestamp(); ts != nil {
			s += fmt.Sprintf(" (deleting since %s, finalizers %v)", ts.Format(time.TimeOnly), o.GetFinalizers())
		}
		return s
	}
	start := time.Now()
	var left []string
	err = wait.PollUntilContextTimeout(ctx, time.Second, limit, true, func(ctx context.Context) (bool, error) {
		left = nil
		seen := map[string]bool{}
		for _, o := range named {
			got, err := dyn.Resource(o.gvr).Namespace(ns).Get(ctx, o.name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				left = append(left, fmt.Sprintf("%s %s (%v)", o.kind, o.name, err))
			default:
				left = append(left, describe(o.kind, got))
				seen[o.gvr.Resource+"/"+o.name] = true
			}
		}
		for kind, gvr := range labelled {
			list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				left = append(left, fmt.Sprintf("%s with %s (%v)", kind, selector, err))
				continue
			}
			for i := range list.Items {
				if !seen[gvr.Resource+"/"+list.Items[i].GetName()] {
					left = append(left, describe(kind, &list.Items[i]))
				}
			}
		}
		return len(left) == 0, nil
	})
	if err != nil {
		sort.Strings(left)
		t.Fatalf("ksvc %s deleted, after %s still left:\n  %s", name, limit, strings.Join(left, "\n  "))
	}
	t.Logf("ksvc %s and its objects gone %s after kubectl delete", name, time.Since(start).Round(100*time.Millisecond))
}

// kubectl runs the cluster's own kubectl with its kubeconfig, as a user would.
func kubectl(ctx context.Context, args ...string) ([]byte, error) {
	args = append([]string{"--kubeconfig", devcluster.Kubeconfig(mustAbs(cluster.opts.StateDir))}, args...)
	return exec.CommandContext(ctx, devcluster.KubectlPath(), args...).CombinedOutput()
}
