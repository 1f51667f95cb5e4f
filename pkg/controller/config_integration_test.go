//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A config-network change reaches existing Routes; an invalid edit is
// ignored (the last good configuration stays) and reported as an event.
func TestNetworkConfigChanges(t *testing.T) {
	ns := namespace(t)
	if err := k8s.Create(context.Background(), ksvc(ns, "net", "example.com/app:v1")); err != nil {
		t.Fatal(err)
	}
	get(t, ns, "net-00001", &v1.Revision{})
	markReady(t, ns, "net-00001")
	waitServiceCondition(t, ns, "net", apis.ConditionReady, corev1.ConditionTrue, "")

	ing := get(t, ns, "net", &networkingv1.Ingress{})
	controlledBy(t, ing, "Route", "net")
	controlledBy(t, get(t, ns, "net", &discoveryv1.EndpointSlice{}), "Route", "net")

	configMap(t, "config-network", map[string]string{"ingress-class": "nginx"})
	eventually(t, "ingress class follows config-network", func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ing), ing); err != nil {
			return err
		}
		if *ing.Spec.IngressClassName != "nginx" {
			return fmt.Errorf("class = %s", *ing.Spec.IngressClassName)
		}
		return nil
	})

	// An unparsable domain template is rejected by Knative's parser.
	configMap(t, "config-network", map[string]string{"ingress-class": "other", "domain-template": "{{.Name"})
	eventually(t, "an InvalidConfig event", func() error {
		list := &corev1.EventList{}
		if err := k8s.List(context.Background(), list, client.InNamespace(system)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Reason == "InvalidConfig" && e.InvolvedObject.Name == "config-network" {
				return nil
			}
		}
		return fmt.Errorf("no InvalidConfig event among %d events", len(list.Items))
	})
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(ing), ing); err != nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("after an invalid config-network the class is %s (%v), want the last good nginx", *ing.Spec.IngressClassName, err)
	}
}
