package coldstart

import (
	"context"
	"csclr.dev/csclr/pkg/bench/benchns"
	"errors"
	"fmt"
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
)

// BenchLabel marks the namespace (and Services) this benchmark creates; only
// a namespace carrying it is ever deleted.
const BenchLabel = benchns.Label

type clients struct {
	kube kubernetes.Interface
	ctrl client.Client
}

func newClients(cfg *rest.Config) (clients, error) {
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), servingv1.AddToScheme(scheme)); err != nil {
		return clients{}, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return clients{}, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	return clients{kube: kube, ctrl: c}, err
}

// makeService builds one benchmark Service at zero: initial-scale 0, so its
// first revision becomes Ready without a pod and the first request is cold.
func makeService(namespace, name, image string) *servingv1.Service {
	return &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{BenchLabel: "cold-start"}},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"autoscaling.knative.dev/initial-scale": "0"}},
			Spec:       servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: image}}}},
		}}},
	}
}

// target is where a Service's first request goes.
type target struct {
	Service, Revision, Host string
}

// createServices creates the Services and waits, at most timeout, until
// every one is Ready (at zero) with a URL and a ready revision.
func createServices(ctx context.Context, c client.Client, namespace, image string, names []string, timeout time.Duration) ([]target, error) {
	for _, n := range names {
		if err := c.Create(ctx, makeService(namespace, n, image)); err != nil {
			return nil, fmt.Errorf("creating Service %s/%s: %w", namespace, n, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]target, len(names))
	for i, n := range names {
		t, err := waitReady(ctx, c, namespace, n)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

func waitReady(ctx context.Context, c client.Client, namespace, name string) (target, error) {
	var svc servingv1.Service
	for {
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &svc)
		if err == nil && svc.IsReady() && svc.Status.URL != nil && svc.Status.LatestReadyRevisionName != "" {
			return target{Service: name, Revision: svc.Status.LatestReadyRevisionName, Host: svc.Status.URL.Host}, nil
		}
		select {
		case <-ctx.Done():
			why := "not found"
			if c := svc.Status.GetCondition(servingv1.ServiceConditionReady); c != nil {
				why = fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
			}
			return target{}, fmt.Errorf("Service %s/%s not Ready at zero in time (%s): check the csclr controller's log", namespace, name, why)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// gatewayAddress is the ClusterIP:80 of the activator Service (the host
// reaches it through kube-proxy), and the activator pods' selector.
func gatewayAddress(ctx context.Context, kube kubernetes.Interface, namespace, name string) (addr string, selector map[string]string, err error) {
	svc, err := kube.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("reading Service %s/%s (the gateway): %w", namespace, name, err)
	}
	return svc.Spec.ClusterIP + ":80", svc.Spec.Selector, nil
}

// waitScaledObjects waits, at most timeout, until the ScaledObject of every
// target's revision (named after it) is Ready: a Service is Ready at zero
// before KEDA has taken its ScaledObject up, and a request sent then would
// time KEDA's set-up of a new ScaledObject, not a cold start.
func waitScaledObjects(ctx context.Context, c client.Client, namespace string, targets []target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, t := range targets {
		for !scaledObjectReady(ctx, c, namespace, t.Revision) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("ScaledObject %s/%s not Ready in time: check `kubectl -n %s describe scaledobject %s` and KEDA's operator log",
					namespace, t.Revision, namespace, t.Revision)
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
