//go:build integration

package controller_test

import (
	"testing"

	"csclr.dev/csclr/pkg/controller"
)

// The whole controller (all reconcilers and the webhook) registers on one
// manager without conflicts (controller names, field indexes, watches).
func TestNewRegistersEverything(t *testing.T) {
	mgr, store, err := controller.New(env.Config, controller.Options{
		MetricsAddr: "0", ProbeAddr: "0", Webhook: true, WebhookPort: 18443, LeaderElection: true,
	})
	if err != nil {
		t.Fatalf("controller.New: %v", err)
	}
	if mgr == nil || store == nil || store.Namespace() != system {
		t.Errorf("New returned manager %v, store %v", mgr, store)
	}
}
