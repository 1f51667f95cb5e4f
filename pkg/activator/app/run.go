// Package app wires the activator process: informer caches, the gateway
// table, the handler chain, the scaler and the five listeners.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"

	"csclr.dev/csclr/pkg/activator"
	"csclr.dev/csclr/pkg/gateway"
	"csclr.dev/csclr/pkg/h1"
	"csclr.dev/csclr/pkg/names"
	"csclr.dev/csclr/pkg/scaler"
	"csclr.dev/csclr/pkg/tracing"
)

// DefaultPublicPort is the public listener's port (Config.PublicPort).
const DefaultPublicPort = 8013

// Config is the activator's whole configuration (cmd/activator fills it
// from flags).
type Config struct {
	// ProxyPort is the in-cluster entry: the apex Services' and the
	// revisions' Services' endpoints in proxy mode. Every Ingress host and
	// every Service name of a Route or routed revision resolves there.
	// PublicPort (zero: DefaultPublicPort) is the external entry of the
	// ingress class: only the public Routes' Ingress hosts resolve there
	// (gateway.Table.Public).
	ProxyPort, PublicPort, ScalerPort, MetricsPort, AdminPort int
	// PodPort and PodMetricsPort are the revision pods' queue sidecar ports
	// (zero: queue.ServingPort and queue.MetricsPort).
	PodPort, PodMetricsPort int

	PodName, PodIP   string // downward API
	SystemNamespace  string // where Service ActivatorService lives
	ActivatorService string
	IngressClass     string
	ClusterDomain    string

	QueueDepth    int           // held requests per revision
	ProbeInterval time.Duration // between probes of a starting pod
	RetryAfter    time.Duration // sent with 503 on a full queue
	DrainPeriod   time.Duration // after SIGTERM, serve this long before closing (endpoints catch up)
	RequestLog    bool
	Tracing       tracing.Config // spans of proxied requests; off when zero
}

// Run serves until ctx ends, then drains.
func Run(ctx context.Context, restCfg *rest.Config, cfg Config, log *slog.Logger) error {
	// The informers and the background loops live until the servers have
	// shut down, not until ctx ends: requests held during the drain still
	// need to see their revision's pods become ready.
	stopping := ctx
	ctx, stop := context.WithCancel(context.WithoutCancel(stopping))
	defer stop()
	c, l, err := newCache(ctx, restCfg, cfg)
	if err != nil {
		return err
	}
	clk := clock.RealClock{}

	// The scaler and its cross-replica signal.
	sc := scaler.New(clk)
	signaller := &scaler.Signaller{Scaler: sc, Peers: l.ActivatorIPs, Self: cfg.PodIP, Port: cfg.AdminPort,
		Client: &http.Client{Timeout: time.Second}, Clock: clk, Every: time.Second, Parallel: 16}
	gatherer := &scaler.Gatherer{Scaler: sc, Targets: l, Client: &http.Client{Timeout: 800 * time.Millisecond},
		Clock: clk, Interval: time.Second, Parallel: 32, PodPort: cfg.PodMetricsPort, ActivatorPort: cfg.MetricsPort,
		OnError: func(err error) { log.Debug("scrape failed", "error", err) }}

	// The gateway table and the data path.
	gwOpts := gateway.Options{IngressClass: cfg.IngressClass, ClusterDomain: cfg.ClusterDomain}
	store := gateway.NewStore(gwOpts)
	syncer := gateway.NewSyncer(store, l, gwOpts)
	syncer.OnError = func(err error) {
		log.Error("rebuilding the routing table failed; keeping the previous one", "error", err)
	}

	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	std := &http.Transport{DialContext: dialer.DialContext, MaxIdleConns: 4096, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: false}
	// Simple requests are sent on the serving goroutine; the rest by std.
	toPods := h1.New(h1.Options{Dial: dialer.DialContext, Fallback: std, MaxIdlePerAddr: 256, IdleTimeout: 90 * time.Second, BufferSize: 16 << 10})
	h2c := &http.Transport{DialContext: dialer.DialContext, Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)

	bal := activator.NewBalancer(activator.BalancerConfig{
		Pods: l, Revisions: l, Replicas: l.Replicas, QueueDepth: cfg.QueueDepth, Clock: clk, Port: cfg.PodPort, Cold: signaller.ColdRequest,
		Prober: &activator.Prober{Client: &http.Client{Timeout: time.Second, Transport: toPods}, Clock: clk, Interval: cfg.ProbeInterval},
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	reg.MustRegister(sc.Collectors()...)
	metrics, err := activator.NewMetrics(reg, bal.Held)
	if err != nil {
		return err
	}
	tr, err := tracing.New(ctx, cfg.Tracing, tracing.Options{ServiceName: "csclr-activator", Pod: cfg.PodName, Namespace: cfg.SystemNamespace,
		OnError: func(err error) {
			log.Warn("exporting trace spans failed", "endpoint", cfg.Tracing.Endpoint, "error", err)
		}})
	if err != nil {
		return err
	}
	chain := activator.Chain{Table: store.Load, Balancer: bal, Cold: signaller.ColdRequest, Transport: toPods, H2C: h2c,
		Clock: clk, Metrics: metrics, Tracing: tr, RetryAfter: cfg.RetryAfter, Errors: log}
	if cfg.RequestLog {
		chain.Log = log
	}
	// The public listener shares everything but the table's view: the same
	// revisions, pods and queues, whichever way a request came in.
	public := chain
	public.Table = func() *gateway.Table { return store.Load().Public() }

	// Informer events.
	for obj, h := range map[client.Object]func(client.Object){
		&corev1.Pod{}: func(o client.Object) {
			bal.PodsChanged(activator.Key{Namespace: o.GetNamespace(), Name: o.GetLabels()[serving.RevisionLabelKey]})
		},
		&discoveryv1.EndpointSlice{}: func(o client.Object) {
			if o.GetNamespace() == cfg.SystemNamespace && sliceService(o) == cfg.ActivatorService {
				bal.Resync() // the activator count changed: so did each pod's share
			}
		},
		&networkingv1.Ingress{}: func(client.Object) { syncer.Changed() },
		&gatewayv1.HTTPRoute{}:  func(client.Object) { syncer.Changed() },
	} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("activator: watching %T: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(onChange(h)); err != nil {
			return err
		}
	}

	go func() {
		if err := c.Start(ctx); err != nil {
			log.Error("informer cache stopped", "error", err)
			stop()
		}
	}()
	syncCtx, cancelSync := context.WithCancel(ctx)
	defer context.AfterFunc(stopping, cancelSync)()
	if !c.WaitForCacheSync(syncCtx) {
		return errors.New("activator: informer caches never synced: check RBAC for pods, endpointslices, ingresses and httproutes")
	}
	syncer.Rebuild()
	go syncer.Run(ctx)
	go gatherer.Run(ctx)
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				bal.Sweep()
			}
		}
	}()

	// Listeners.
	var draining atomic.Bool
	admin := http.NewServeMux()
	admin.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	admin.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	admin.Handle(scaler.PokePath, scaler.PokeHandler(sc))

	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	metricsMux.Handle(scaler.ActivatorStatsPath, activator.ReportHandler(bal, cfg.PodName))

	publicPort := cfg.PublicPort
	if publicPort == 0 {
		publicPort = DefaultPublicPort
	}
	servers := []*http.Server{proxyServer(cfg.ProxyPort, chain), proxyServer(publicPort, public),
		{Addr: addr(cfg.AdminPort), Handler: admin, ReadHeaderTimeout: 5 * time.Second},
		{Addr: addr(cfg.MetricsPort), Handler: metricsMux, ReadHeaderTimeout: 5 * time.Second}}
	errc := make(chan error, len(servers)+1)
	for _, s := range servers {
		go func() {
			if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("activator: serving %s: %w", s.Addr, err)
			}
		}()
	}
	grpcSrv := grpc.NewServer()
	pb.RegisterExternalScalerServer(grpcSrv, sc)
	lis, err := net.Listen("tcp", addr(cfg.ScalerPort))
	if err != nil {
		return fmt.Errorf("activator: listening for the scaler on %s: %w", addr(cfg.ScalerPort), err)
	}
	go func() {
		if err := grpcSrv.Serve(lis); err != nil {
			errc <- fmt.Errorf("activator: serving the scaler: %w", err)
		}
	}()
	log.Info("activator serving", "proxy", cfg.ProxyPort, "public", publicPort, "scaler", cfg.ScalerPort, "metrics", cfg.MetricsPort, "admin", cfg.AdminPort,
		"tracing", cfg.Tracing.Enabled())

	select {
	case err = <-errc:
	case <-stopping.Done():
	case <-ctx.Done(): // the informer cache failed
	}
	// Drain: fail readiness so the endpoints drop this pod, keep serving
	// while they catch up, then finish the requests in flight.
	draining.Store(true)
	time.Sleep(cfg.DrainPeriod)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdownCtx)
	}
	grpcSrv.Stop() // KEDA's streams never end by themselves; KEDA reconnects to another replica
	// The spans of the last requests are still batched.
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelFlush()
	if ferr := tr.Shutdown(flushCtx); ferr != nil {
		log.Warn("spans of the last requests were lost", "error", ferr)
	}
	return err
}

// Scheme is the types the activator reads.
func Scheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, servingv1.AddToScheme, gatewayv1.Install} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}

// newCache makes the informer cache (pods restricted to revision pods,
// EndpointSlices to those read, each object trimmed to what is read: see
// trim.go) with its indexes, and the listers over it.
func newCache(ctx context.Context, restCfg *rest.Config, cfg Config) (cache.Cache, *listers, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, nil, err
	}
	hasRevision, err := labels.NewRequirement(serving.RevisionLabelKey, selection.Exists, nil)
	if err != nil {
		return nil, nil, err
	}
	// Of the EndpointSlices, the activator reads its own Service's (in the
	// system namespace) and the revisions' private ones (made by the
	// EndpointSlice controller, not by csclr's).
	notCsclrs, err := labels.NewRequirement(discoveryv1.LabelManagedBy, selection.NotEquals, []string{names.ManagedBy})
	if err != nil {
		return nil, nil, err
	}
	c, err := cache.New(restCfg, cache.Options{
		Scheme:           scheme,
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Pod{}:           {Label: labels.NewSelector().Add(*hasRevision), Transform: trimPod},
			&networkingv1.Ingress{}: {Transform: gateway.TrimIngress},
			&gatewayv1.HTTPRoute{}:  {Transform: gateway.TrimHTTPRoute},
			&discoveryv1.EndpointSlice{}: {Transform: trimEndpointSlice, Namespaces: map[string]cache.Config{
				cfg.SystemNamespace: {LabelSelector: labels.Everything()},
				cache.AllNamespaces: {LabelSelector: labels.NewSelector().Add(*hasRevision, *notCsclrs)},
			}},
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("activator: creating the informer cache: %w", err)
	}
	if err := indexCache(ctx, c); err != nil {
		return nil, nil, fmt.Errorf("activator: indexing the informer cache: %w", err)
	}
	reader, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("activator: creating the API client: %w", err)
	}
	return c, &listers{cache: c, reader: reader, systemNamespace: cfg.SystemNamespace, activatorSvc: cfg.ActivatorService}, nil
}

// proxyServer serves the request path of c on port: HTTP/1.1 and h2c
// (gRPC without TLS).
func proxyServer(port int, c activator.Chain) *http.Server {
	s := &http.Server{Addr: addr(port), Handler: activator.NewHandler(c), Protocols: new(http.Protocols), ReadHeaderTimeout: 30 * time.Second}
	s.Protocols.SetHTTP1(true)
	s.Protocols.SetUnencryptedHTTP2(true)
	return s
}

func addr(port int) string { return ":" + strconv.Itoa(port) }
