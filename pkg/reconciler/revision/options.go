// Package revision is the Revision reconciler: it turns a Knative Revision
// into a KEDA-scaled Deployment, its private and public Services, the public
// Service's EndpointSlice (pods or activators) and a ScaledObject, and writes
// the Revision's status. The objects themselves are built in resources/.
package revision

import (
	"context"
	"net/http"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"csclr.dev/csclr/pkg/reconciler/revision/resources"
)

// Config is a snapshot of the cluster configuration (Knative's own config
// types plus csclr's images and addresses).
type Config = resources.Config

// DefaultConfig is Knative's stock configuration, for tests.
func DefaultConfig() Config { return resources.DefaultConfig() }

// Options configure the reconciler.
type Options struct {
	// Config returns the current configuration; it is called once per
	// reconcile.
	Config func(context.Context) Config
	// ConfigChanged delivers an event whenever a ConfigMap that shapes the
	// revisions' children changes, to reconcile every Revision with it at
	// once (nil: each Revision picks a change up at its next reconcile,
	// which may be hours away when nothing else about it changes).
	ConfigChanged <-chan event.GenericEvent
	// Clock drives the serve/proxy hysteresis; nil means the real clock.
	Clock clock.PassiveClock
	// Resolver resolves image tags to digests; nil means RegistryResolver
	// with Transport, reading pull secrets through the manager's API reader.
	Resolver DigestResolver
	// Transport carries registry requests of the default resolver.
	Transport http.RoundTripper
	// MaxConcurrentReconciles defaults to 4: digest resolution can block a
	// worker for up to digest-resolution-timeout.
	MaxConcurrentReconciles int
}

// AddToScheme registers every type the reconciler reads or writes.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, servingv1.AddToScheme, kedav1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}
