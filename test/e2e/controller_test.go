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
// drain does) loses neither admission nor reconciling: a Service applied
// right after, through the admission webhook (which the deleted pod keeps
// serving until the endpoints drop it), is Ready at once (the old leader
// reconciles through its drain); the Lease then moves to the other replica
// without waiting for it to expire (the leader releases it on the way
// out), which reconciles the next Service; the Service made before still
// answers.
func TestControllerLeaderDeletion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-leader")
	before := applyKsvc(t, ctx, ns, ksvcSpec{name: "before", image: testImage(t), env: map[string]string{"MESSAGE": "before"}})

	leader := leaseHolder(t, ctx)
	start := time.Now()
	if err := cluster.kube.CoreV1().Pods("csclr-system").Delete(ctx, leader, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the leader %s: %v", leader, err)
	}
	applyKsvc(t, ctx, ns, ksvcSpec{name: "during", image: testImage(t), annotations: fastScaleDown})
	t.Logf("leader %s deleted; a Service applied then was Ready %s later", leader, time.Since(start).Round(100*time.Millisecond))

	var next string
	eventually(t, ctx, "the Lease held by another replica", func() error {
		if next = leaseHolder(t, ctx); next == leader || next == "" { // "": released, not yet taken
			return errNotYet
		}
		return nil
	})
	moved := time.Since(start)
	t.Logf("the Lease moved to %s %s after the deletion", next, moved.Round(100*time.Millisecond))
	// The webhook's drain (10 s) comes first; waiting for the Lease to
	// expire (15 s) would come on top of it.
	if moved > 20*time.Second {
		t.Errorf("the Lease took %s to move", moved.Round(time.Second))
	}
	applyKsvc(t, ctx, ns, ksvcSpec{name: "after", image: testImage(t), annotations: fastScaleDown})
	if r := newClient(t, ctx, before, time.Minute).mustGet(t, ctx, "/", 200); r.body != "before\n" {
		t.Errorf("the Service made before: %q", r.body)
	}
}

// leaseHolder is the pod holding the controller's Lease.
func leaseHolder(t *testing.T, ctx context.Context) string {
	t.Helper()
	lease, err := cluster.kube.CoordinationV1().Leases("csclr-system").Get(ctx, "csclr-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		t.Fatalf("the controller's Lease: %v (%+v)", err, lease)
	}
	pod, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_") // {pod}_{uuid}
	return pod
}
