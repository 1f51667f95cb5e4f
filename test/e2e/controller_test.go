//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Deleting the controller's leader (gracefully, as a rollout or a node
// drain does) hands the Lease to the other replica at once (the leader
// releases it on the way out): a Service applied right after, through the
// admission webhook the other replica serves too, is Ready well within the
// Lease's duration, and the Service reached Ready before still answers.
func TestControllerLeaderDeletion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-leader")
	before := applyKsvc(t, ctx, ns, ksvcSpec{name: "before", image: testImage(t), env: map[string]string{"MESSAGE": "before"}})

	leases := cluster.kube.CoordinationV1().Leases("csclr-system")
	lease, err := leases.Get(ctx, "csclr-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		t.Fatalf("the controller's Lease: %v (%+v)", err, lease)
	}
	leader, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_") // {pod}_{uuid}
	start := time.Now()
	if err := cluster.kube.CoreV1().Pods("csclr-system").Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the leader %s: %v", leader, err)
	}
	applyKsvc(t, ctx, ns, ksvcSpec{name: "after", image: testImage(t), annotations: fastScaleDown})
	took := time.Since(start)
	lease, err = leases.Get(ctx, "csclr-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || strings.HasPrefix(*lease.Spec.HolderIdentity, leader+"_") {
		t.Errorf("the Lease after the leader's deletion: %v (%+v)", err, lease.Spec.HolderIdentity)
	}
	t.Logf("leader %s deleted; a new Service Ready %s later, the Lease held by %s", leader, took.Round(100*time.Millisecond), *lease.Spec.HolderIdentity)
	// The Lease lasts 15 s; a handover that waited for it to expire would
	// take that long before the new leader even started.
	if took > 15*time.Second {
		t.Errorf("a new Service took %s to be Ready after the leader's deletion", took.Round(time.Second))
	}
	if r := newClient(t, ctx, before, time.Minute).mustGet(t, ctx, "/", 200); r.body != "before\n" {
		t.Errorf("the Service made before: %q", r.body)
	}
}
