//go:build integration

package controller_test

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"csclr.dev/csclr/pkg/controller"
)

// Two controller replicas: one leads, the other waits; when the leader
// stops it releases the Lease and the other takes over within seconds
// rather than after the lease expires.
func TestLeaderElectionHandsOver(t *testing.T) {
	const id = "csclr-controller-election-test"
	type replica struct {
		mgr  manager.Manager
		stop context.CancelFunc
		done chan error
	}
	start := func() replica {
		mgr, _, err := controller.New(env.Config, controller.Options{
			MetricsAddr: "0", ProbeAddr: "0", LeaderElection: true, LeaderElectionID: id, SkipNameValidation: true,
		})
		if err != nil {
			t.Fatalf("controller.New: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := replica{mgr: mgr, stop: cancel, done: make(chan error, 1)}
		go func() { r.done <- mgr.Start(ctx) }()
		return r
	}
	stopped := func(r replica) {
		t.Helper()
		r.stop()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("replica stopped with %v", err)
			}
		case <-time.After(45 * time.Second):
			t.Fatal("a replica did not stop within 45s")
		}
	}
	holder := func() string {
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: system, Name: id}, lease); err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}

	first := start()
	select {
	case <-first.mgr.Elected():
	case <-time.After(30 * time.Second):
		t.Fatal("the first replica was not elected within 30s")
	}
	leader := holder()
	if leader == "" {
		t.Fatal("the elected replica holds no Lease")
	}

	second := start()
	defer stopped(second)
	select {
	case <-second.mgr.Elected():
		t.Fatal("the second replica was elected while the first leads")
	case <-time.After(5 * time.Second):
	}

	handover := time.Now()
	stopped(first)
	select {
	case <-second.mgr.Elected():
		t.Logf("the second replica led %s after the first was told to stop", time.Since(handover).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the second replica did not take over within 20s of the first stopping")
	}
	if now := holder(); now == "" || now == leader {
		t.Errorf("Lease holder after the handover = %q, was %q", now, leader)
	}
}
