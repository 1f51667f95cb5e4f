// Package benchsvc is what the cluster benchmarks share about their Knative
// Services at zero: the clients, the Services themselves (initial-scale 0,
// labelled with the benchmark), the waits until they and their
// ScaledObjects are Ready with no pod, and the gateway's address.
package benchsvc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/pkg/bench/benchns"
	"csclr.dev/csclr/pkg/names"
)

// InitialScale is the annotation that keeps a new revision at zero pods:
// it becomes Ready without one, so its first request is cold.
const InitialScale = "autoscaling.knative.dev/initial-scale"

// Clients are the typed client (pods, Services, Deployments) and the
// controller-runtime one (Knative Services, KEDA's ScaledObjects).
type Clients struct {
	Kube kubernetes.Interface
	Ctrl client.Client
}

// NewClients builds both from cfg.
func NewClients(cfg *rest.Config) (Clients, error) {
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), servingv1.AddToScheme(scheme)); err != nil {
		return Clients{}, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Clients{}, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	return Clients{Kube: kube, Ctrl: c}, err
}

// Spec is what a run's Services have in common.
type Spec struct {
	Namespace, Image string
	Bench            string            // the value of benchns.Label on each Service
	Annotations      map[string]string // the revision template's, next to initial-scale 0
}

// MakeService builds one benchmark Service at zero.
func MakeService(s Spec, name string) *servingv1.Service {
	ann := map[string]string{InitialScale: "0"}
	maps.Copy(ann, s.Annotations)
	return &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: map[string]string{benchns.Label: s.Bench}},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: ann},
			Spec:       servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: s.Image}}}},
		}}},
	}
}

// Names are n Service names, prefix-01 and on (wider for n ≥ 100), in
// creation order.
func Names(prefix string, n int) []string {
	width := len(fmt.Sprint(n))
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%0*d", prefix, max(2, width), i+1)
	}
	return out
}

// Target is where a Service's requests go: the gateway, with its host.
type Target struct {
	Service, Revision, Host string
}

// Create creates the Services and waits, at most timeout, until every one
// is Ready (at zero) with a URL and a ready revision.
func Create(ctx context.Context, c client.Client, s Spec, svcNames []string, timeout time.Duration) ([]Target, error) {
	for _, n := range svcNames {
		if err := c.Create(ctx, MakeService(s, n)); err != nil {
			return nil, fmt.Errorf("creating Service %s/%s: %w", s.Namespace, n, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]Target, len(svcNames))
	for i, n := range svcNames {
		t, err := waitReady(ctx, c, s.Namespace, n)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

func waitReady(ctx context.Context, c client.Client, namespace, name string) (Target, error) {
	var svc servingv1.Service
	for {
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &svc)
		if err == nil && svc.IsReady() && svc.Status.URL != nil && svc.Status.LatestReadyRevisionName != "" {
			return Target{Service: name, Revision: svc.Status.LatestReadyRevisionName, Host: svc.Status.URL.Host}, nil
		}
		select {
		case <-ctx.Done():
			why := "not found"
			if c := svc.Status.GetCondition(servingv1.ServiceConditionReady); c != nil {
				why = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
			}
			return Target{}, fmt.Errorf("Service %s/%s not Ready at zero in time (%s): check the csclr controller's log", namespace, name, why)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Gateway is the ClusterIP:80 of the activator Service (the host reaches
// it through kube-proxy), and the activator pods' selector.
func Gateway(ctx context.Context, kube kubernetes.Interface, namespace, name string) (addr string, selector map[string]string, err error) {
	svc, err := kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("reading Service %s/%s (the gateway): %w", namespace, name, err)
	}
	return svc.Spec.ClusterIP + ":80", svc.Spec.Selector, nil
}

// WaitScaledObjects waits, at most timeout, until the ScaledObject of every
// target's revision is Ready: a Service is Ready at zero before KEDA has
// taken its ScaledObject up, and a request sent then would time KEDA's
// set-up of a new ScaledObject, not a cold start.
func WaitScaledObjects(ctx context.Context, c client.Client, namespace string, targets []Target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, t := range targets {
		name := names.ScaledObject(t.Revision)
		for !scaledObjectReady(ctx, c, namespace, name) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("ScaledObject %s/%s not Ready in time: check `kubectl -n %s describe scaledobject %s` and KEDA's operator log",
					namespace, name, namespace, name)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

func scaledObjectReady(ctx context.Context, c client.Client, namespace, name string) bool {
	so := &unstructured.Unstructured{}
	so.SetGroupVersionKind(schema.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"})
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, so); err != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(so.Object, "status", "conditions")
	for _, x := range conds {
		if m, ok := x.(map[string]any); ok && m["type"] == "Ready" {
			return m["status"] == "True"
		}
	}
	return false
}

// WaitNoPods waits, at most timeout, until the namespace has no pod: every
// revision at zero, so that the requests that follow are all cold.
func WaitNoPods(ctx context.Context, kube kubernetes.Interface, namespace string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		pods, err := kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			left := "unknown"
			if err == nil {
				left = fmt.Sprintf("%d pods, first %s", len(pods.Items), pods.Items[0].Name)
			}
			return fmt.Errorf("namespace %s still has pods after %s (%s): a revision did not stay at zero; check initial-scale and `kubectl -n %s get pods`", namespace, timeout, left, namespace)
		case <-time.After(time.Second):
		}
	}
}
