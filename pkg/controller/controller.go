// Package controller wires csclr's controller process: the scheme, the
// manager (leader election, metrics, health probes, cache scoping), the
// configuration store and every reconciler and the admission webhook.
package controller

import (
	"context"
	"fmt"
	"slices"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"go.uber.org/zap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/logging"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/gc"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/reconciler/configuration"
	"csclr.dev/csclr/pkg/reconciler/revision"
	revresources "csclr.dev/csclr/pkg/reconciler/revision/resources"
	"csclr.dev/csclr/pkg/reconciler/route"
	"csclr.dev/csclr/pkg/reconciler/service"
	"csclr.dev/csclr/pkg/webhook"
)

// Options configure the controller process. Zero values take the defaults.
type Options struct {
	// SystemNamespace holds csclr's ConfigMaps, the leader election Lease,
	// the activator and the webhook (default: config.SystemNamespace()).
	SystemNamespace string
	// MetricsAddr serves Prometheus metrics ("0" disables; default ":9090").
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz (default ":8081").
	ProbeAddr string
	// LeaderElection makes only one replica reconcile at a time.
	LeaderElection bool
	// LeaderElectionID names the Lease (default "csclr-controller").
	LeaderElectionID string
	// Webhook serves the admission webhook in this process.
	Webhook bool
	// WebhookPort is the webhook's TLS port (default webhook.DefaultPort).
	WebhookPort int
	// WebhookDrainPeriod keeps the webhook serving this long after SIGTERM
	// (webhook.Options.DrainPeriod; zero: stop at once).
	WebhookDrainPeriod time.Duration
	// ScalerAddress is host:port of csclr's KEDA external-push scaler, written
	// into every ScaledObject (default: the revision reconciler's default).
	ScalerAddress string
	// Workers is how many reconciles of one kind run at once (default 4;
	// the revision reconciler's own option wins for revisions).
	Workers int
	// Revision, if set, replaces the revision reconciler's options apart from
	// Config and ConfigChanged (tests use it to inject a digest resolver).
	Revision *revision.Options
	// SkipNameValidation lets several managers register the same
	// controllers in one process (controller-runtime refuses that by
	// default); tests of leader election run two replicas this way.
	SkipNameValidation bool
}

func (o Options) withDefaults() Options {
	if o.SystemNamespace == "" {
		o.SystemNamespace = config.SystemNamespace()
	}
	if o.MetricsAddr == "" {
		o.MetricsAddr = ":9090"
	}
	if o.ProbeAddr == "" {
		o.ProbeAddr = ":8081"
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "csclr-controller"
	}
	if o.ScalerAddress == "" {
		o.ScalerAddress = revision.DefaultConfig().ScalerAddress
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	return o
}

// NewScheme registers every type the controller reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, servingv1.AddToScheme, kedav1alpha1.AddToScheme, gatewayv1.Install,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New builds the manager with every reconciler (and the webhook if asked)
// registered, and returns the configuration store it keeps current.
func New(cfg *rest.Config, opts Options) (ctrl.Manager, *config.Store, error) {
	opts = opts.withDefaults()
	scheme, err := NewScheme()
	if err != nil {
		return nil, nil, fmt.Errorf("building the scheme: %w", err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.ProbeAddr,
		LeaderElection:          opts.LeaderElection,
		LeaderElectionID:        opts.LeaderElectionID,
		LeaderElectionNamespace: opts.SystemNamespace,
		// Stepping down cleanly lets the next leader start at once.
		LeaderElectionReleaseOnCancel: true,
		Controller:                    ctrlconfig.Controller{MaxConcurrentReconciles: opts.Workers, SkipNameValidation: &opts.SkipNameValidation},
		Cache:                         CacheOptions(opts.SystemNamespace),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	store := config.NewStore(opts.SystemNamespace)
	if err := register(mgr, store, opts); err != nil {
		return nil, nil, err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, err
	}
	return mgr, store, nil
}

// CacheOptions scope the manager's cache to what the controller reads, so
// that its memory grows with csclr's objects, not with the cluster: csclr's
// own ConfigMaps and Secrets (RBAC grants them in the system namespace
// only), the revisions' pods, and of each kind csclr creates only the
// objects it creates, by a label every one of them carries:
//
//   - Deployments and KEDA ScaledObjects: serving.knative.dev/revision
//     (only revisions own them);
//   - Services: csclr.dev/managed-by=controller.csclr.dev (a revision's two
//     and a Route's apex Service have no other label in common);
//   - EndpointSlices: endpointslice.kubernetes.io/managed-by=
//     controller.csclr.dev (revisions' and Routes' alike), and every
//     EndpointSlice of the system namespace, where the activator's are
//     (Kubernetes writes those);
//   - HTTPRoutes and Ingresses: serving.knative.dev/route (only Routes own
//     them).
//
// A child whose label a user removed, or that an older csclr created
// without it, is not in the cache; the reconcilers read it without the
// cache when its create fails with AlreadyExists, and relabel it if it is
// theirs (package reconciler/children).
func CacheOptions(systemNamespace string) cache.Options {
	exists := func(key string) labels.Selector {
		req, err := labels.NewRequirement(key, selection.Exists, nil)
		if err != nil {
			panic(err) // only an invalid constant key can cause it
		}
		return labels.NewSelector().Add(*req)
	}
	managedBy := func(key string) labels.Selector {
		return labels.SelectorFromSet(labels.Set{key: revresources.ManagedByValue})
	}
	revisionChildren, routeChildren := exists(serving.RevisionLabelKey), exists(serving.RouteLabelKey)
	systemOnly := map[string]cache.Config{systemNamespace: {}}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.ConfigMap{}:          {Namespaces: systemOnly},
		&corev1.Secret{}:             {Namespaces: systemOnly},
		&corev1.Pod{}:                {Label: revisionChildren},
		&appsv1.Deployment{}:         {Label: revisionChildren},
		&kedav1alpha1.ScaledObject{}: {Label: revisionChildren},
		&corev1.Service{}:            {Label: managedBy(revresources.ManagedByLabelKey)},
		&discoveryv1.EndpointSlice{}: {Namespaces: map[string]cache.Config{
			// Everything (a nil selector would fall back to the one below).
			systemNamespace:     {LabelSelector: labels.Everything()},
			cache.AllNamespaces: {LabelSelector: managedBy(discoveryv1.LabelManagedBy)},
		}},
		&gatewayv1.HTTPRoute{}:  {Label: routeChildren},
		&networkingv1.Ingress{}: {Label: routeChildren},
	}}
}

func register(mgr ctrl.Manager, store *config.Store, opts Options) error {
	if err := RegisterCore(mgr, store, opts.withDefaults().SystemNamespace); err != nil {
		return err
	}
	revOpts := revision.Options{}
	if opts.Revision != nil {
		revOpts = *opts.Revision
	}
	revOpts.Config = revisionConfig(store, opts)
	// The ConfigMaps that go into every Deployment; a change rolls the
	// revisions' pods, as in Knative.
	revOpts.ConfigChanged = configChanges(store, config.DeploymentName, config.TracingName)
	if revOpts.MaxConcurrentReconciles == 0 {
		revOpts.MaxConcurrentReconciles = opts.Workers
	}
	if err := revision.SetupWithManager(mgr, revOpts); err != nil {
		return fmt.Errorf("setting up the revision reconciler: %w", err)
	}
	if opts.Webhook {
		if err := webhook.SetupWithManager(mgr, webhook.Options{
			WithConfig:  store.LoadedContext,
			Namespace:   opts.SystemNamespace,
			Port:        opts.WebhookPort,
			DrainPeriod: opts.WebhookDrainPeriod,
		}); err != nil {
			return fmt.Errorf("setting up the admission webhook: %w", err)
		}
	}
	return nil
}

// RegisterCore registers the configuration watch and the Service,
// Configuration and Route reconcilers (everything but the Revision
// reconciler and the webhook), for tests that drive Revisions themselves.
func RegisterCore(mgr ctrl.Manager, store *config.Store, systemNamespace string) error {
	if err := store.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("watching the configuration: %w", err)
	}
	withConfig := reconcileContext(store)
	if err := service.SetupWithManager(mgr, service.Options{WithConfig: withConfig}); err != nil {
		return fmt.Errorf("setting up the service reconciler: %w", err)
	}
	if err := configuration.SetupWithManager(mgr, configuration.Options{
		WithConfig: withConfig,
		GC:         func() *gc.Config { return store.Load().GC },
	}); err != nil {
		return fmt.Errorf("setting up the configuration reconciler: %w", err)
	}
	if err := route.SetupWithManager(mgr, route.Options{
		WithConfig:      withConfig,
		SystemNamespace: systemNamespace,
		// The ConfigMaps that shape URLs, Ingresses and HTTPRoutes
		// (config-features: tag-header-based-routing).
		ConfigChanged: configChanges(store, config.NetworkName, config.DomainName, config.FeaturesName),
	}); err != nil {
		return fmt.Errorf("setting up the route reconciler: %w", err)
	}
	return nil
}

// reconcileContext is the context the reconcilers hand to Knative's code:
// the cluster configuration, and a silent Knative logger, because Knative's
// status helpers otherwise log through a fallback logger of their own
// (their warnings duplicate the conditions the reconcilers write).
func reconcileContext(store *config.Store) func(context.Context) context.Context {
	quiet := zap.NewNop().Sugar()
	return func(ctx context.Context) context.Context {
		return logging.WithLogger(store.LoadedContext(ctx), quiet)
	}
}

// revisionConfig adapts the store's snapshot to the revision reconciler.
func revisionConfig(store *config.Store, opts Options) func(context.Context) revision.Config {
	return func(ctx context.Context) revision.Config {
		_ = store.WaitLoaded(ctx) // see LoadedContext
		c := store.Load()
		return revision.Config{
			Defaults:        c.Defaults,
			Features:        c.Features,
			Autoscaler:      c.Autoscaler,
			Deployment:      c.Deployment,
			Tracing:         c.Tracing,
			QueueImage:      c.Deployment.QueueSidecarImage,
			ScalerAddress:   opts.ScalerAddress,
			SystemNamespace: opts.SystemNamespace,
		}
	}
}

// configChanges signals a reconciler when one of the named ConfigMaps
// changes. One pending signal is enough (it requeues every object of the
// reconciler's kind), so the store never waits for the reconciler.
func configChanges(store *config.Store, names ...string) <-chan event.GenericEvent {
	ch := make(chan event.GenericEvent, 1)
	store.OnChange(func(name string) {
		if !slices.Contains(names, name) {
			return
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: store.Namespace(), Name: name}}
		select {
		case ch <- event.GenericEvent{Object: cm}:
		default:
		}
	})
	return ch
}

// Run builds the manager and runs it until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, _, err := New(cfg, opts)
	if err != nil {
		return err
	}
	ctrl.Log.WithName("controller").Info("starting", "systemNamespace", opts.withDefaults().SystemNamespace,
		"leaderElection", opts.LeaderElection, "webhook", opts.Webhook, "startedAt", time.Now().UTC())
	return mgr.Start(ctx)
}
