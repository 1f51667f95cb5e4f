// Command activator is csclr's data plane for cold and bursty traffic, its
// mesh-less gateway, and its KEDA external-push scaler.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	ctrl "sigs.k8s.io/controller-runtime/pkg/client/config"

	"csclr.dev/csclr/pkg/activator/app"
	"csclr.dev/csclr/pkg/logbuf"
	"csclr.dev/csclr/pkg/tracing"
)

func main() {
	cfg := app.Config{}
	flag.IntVar(&cfg.ProxyPort, "proxy-port", 8012, "port for in-cluster traffic: the apex and revision Services (HTTP/1.1 and h2c)")
	flag.IntVar(&cfg.PublicPort, "public-port", 8013, "port of the public gateway: only the public Routes' Ingress hosts of the csclr class")
	flag.IntVar(&cfg.ScalerPort, "scaler-port", 9093, "port of the KEDA external-push scaler (gRPC)")
	flag.IntVar(&cfg.MetricsPort, "metrics-port", 9090, "port for /metrics and the held-request reports")
	flag.IntVar(&cfg.AdminPort, "admin-port", 8022, "port for /healthz, /readyz and peer pokes")
	flag.StringVar(&cfg.PodName, "pod-name", os.Getenv("POD_NAME"), "this pod's name (downward API)")
	flag.StringVar(&cfg.PodIP, "pod-ip", os.Getenv("POD_IP"), "this pod's IP (downward API)")
	flag.StringVar(&cfg.SystemNamespace, "system-namespace", envOr("SYSTEM_NAMESPACE", "csclr-system"), "namespace of the activator Service")
	flag.StringVar(&cfg.ActivatorService, "activator-service", "csclr-activator", "name of the activator Service (its EndpointSlices list the peers)")
	flag.StringVar(&cfg.IngressClass, "ingress-class", "csclr", "class of the Ingresses this gateway serves")
	flag.StringVar(&cfg.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	flag.IntVar(&cfg.QueueDepth, "queue-depth", 1000, "requests one revision may hold here while waiting for a pod")
	flag.DurationVar(&cfg.ProbeInterval, "probe-interval", 25*time.Millisecond, "interval between probes of a starting pod")
	flag.DurationVar(&cfg.RetryAfter, "retry-after", time.Second, "Retry-After sent with 503 when a revision's queue is full")
	flag.DurationVar(&cfg.DrainPeriod, "drain-period", 10*time.Second, "after SIGTERM, keep serving this long so endpoints drop this pod first")
	flag.BoolVar(&cfg.RequestLog, "request-log", true, "write one JSON line per request")
	tracingFlags := tracingFlags()
	flag.Parse()

	// Request lines are batched: a write per line costs throughput.
	out := logbuf.New(os.Stdout, 64<<10, 100*time.Millisecond)
	log := slog.New(slog.NewJSONHandler(out, nil))
	var err error
	if cfg.Tracing, err = tracingFlags(); err != nil {
		fmt.Fprintf(os.Stderr, "activator: %v\n", err)
		os.Exit(2)
	}
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintf(os.Stderr, "activator: no Kubernetes configuration (in-cluster or KUBECONFIG): %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err = app.Run(ctx, restCfg, cfg, log)
	if err != nil {
		log.Error("activator failed", "error", err)
	}
	_ = out.Close()
	if err != nil {
		os.Exit(1)
	}
}

// tracingFlags defines --tracing-<key> for each key of config-tracing,
// defaulting to its environment variable (config/core sets them from the
// ConfigMap), and returns the parser of their values.
func tracingFlags() func() (tracing.Config, error) {
	values := map[string]*string{}
	envs := map[string]string{}
	for _, f := range []struct{ key, env, usage string }{
		{tracing.BackendKey, tracing.EnvBackend, "where trace spans go: none or otlp"},
		{tracing.EndpointKey, tracing.EnvEndpoint, "the collector's OTLP/HTTP traces URL, e.g. http://otel-collector.observability:4318/v1/traces"},
		{tracing.SampleRateKey, tracing.EnvSampleRate, "fraction of new traces recorded, in [0, 1] (empty: 0.1)"},
	} {
		values[f.key] = flag.String("tracing-"+f.key, os.Getenv(f.env), f.usage+" (env "+f.env+")")
		envs[f.key] = f.env
	}
	return func() (tracing.Config, error) {
		v := map[string]string{}
		for k, p := range values {
			v[k] = *p
		}
		return tracing.ConfigFromValues(v, func(k string) string { return "--tracing-" + k + " (" + envs[k] + ")" })
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
