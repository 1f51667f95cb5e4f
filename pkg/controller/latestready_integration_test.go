//go:build integration

package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/apis"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"csclr.dev/csclr/internal/testenv"
)

// latestReady only moves forward, as in Knative: when the latest ready
// revision fails later, it stays latest ready (and keeps the traffic of a
// Route following the latest revision) rather than falling back to an older
// ready revision; a newer ready revision takes over.
func TestLatestReadyOnlyMovesForward(t *testing.T) {
	ns := namespace(t)
	defer dump(t, ns, "hello")
	svc := ksvc(ns, "hello", "example.com/hello:v1")
	if err := k8s.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	get(t, ns, "hello-00001", &v1.Revision{})
	markReady(t, ns, "hello-00001")
	waitLatestReady(t, ns, "hello-00001", corev1.ConditionTrue, "")

	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/hello:v2" })
	get(t, ns, "hello-00002", &v1.Revision{})
	markReady(t, ns, "hello-00002")
	waitLatestReady(t, ns, "hello-00002", corev1.ConditionTrue, "")
	waitTraffic(t, ns, "hello-00002")

	// The pods of hello-00002 crash: Knative keeps it latest ready and
	// reports the failure on Ready.
	markFailed(t, ns, "hello-00002")
	cfg := waitLatestReady(t, ns, "hello-00002", corev1.ConditionFalse, "RevisionFailed")
	want := `Revision "hello-00002" failed with message: container exited with code 1.`
	if c := cfg.Status.GetCondition(apis.ConditionReady); c.Message != want {
		t.Errorf("configuration Ready message = %q, want %q", c.Message, want)
	}
	route := &v1.Route{}
	route.Namespace, route.Name = ns, "hello"
	testenv.WaitSettled(t, k8s, 2*time.Second, 20*time.Second, cfg, route)
	if cfg.Status.LatestReadyRevisionName != "hello-00002" {
		t.Errorf("after settling, latestReady = %q, want hello-00002", cfg.Status.LatestReadyRevisionName)
	}
	if len(route.Status.Traffic) != 1 || route.Status.Traffic[0].RevisionName != "hello-00002" {
		t.Errorf("route traffic = %+v, want all on hello-00002", route.Status.Traffic)
	}
	waitServiceCondition(t, ns, "hello", v1.ServiceConditionConfigurationsReady, corev1.ConditionFalse, "RevisionFailed")

	update(t, svc, func(s *v1.Service) { s.Spec.Template.Spec.Containers[0].Image = "example.com/hello:v3" })
	get(t, ns, "hello-00003", &v1.Revision{})
	markReady(t, ns, "hello-00003")
	waitLatestReady(t, ns, "hello-00003", corev1.ConditionTrue, "")
	waitTraffic(t, ns, "hello-00003")
}

// waitLatestReady waits until Configuration ns/hello has observed its
// generation, names latestReady and has Ready status (and reason, if set).
func waitLatestReady(t *testing.T, ns, latestReady string, status corev1.ConditionStatus, reason string) *v1.Configuration {
	t.Helper()
	cfg := &v1.Configuration{}
	eventually(t, fmt.Sprintf("configuration latestReady %s, Ready %s %s", latestReady, status, reason), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "hello"}, cfg); err != nil {
			return err
		}
		c := cfg.Status.GetCondition(apis.ConditionReady)
		if cfg.Status.ObservedGeneration != cfg.Generation || cfg.Status.LatestReadyRevisionName != latestReady ||
			c == nil || c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("observedGeneration %d/%d, latestReady %q, Ready %+v",
				cfg.Status.ObservedGeneration, cfg.Generation, cfg.Status.LatestReadyRevisionName, c)
		}
		return nil
	})
	return cfg
}

// waitTraffic waits until Service ns/hello sends all traffic to rev.
func waitTraffic(t *testing.T, ns, rev string) {
	t.Helper()
	eventually(t, "traffic on "+rev, func() error {
		s := &v1.Service{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "hello"}, s); err != nil {
			return err
		}
		if len(s.Status.Traffic) != 1 || s.Status.Traffic[0].RevisionName != rev {
			return fmt.Errorf("traffic = %+v", s.Status.Traffic)
		}
		return nil
	})
}
