// Command controller runs csclr's control plane: the Service,
// Configuration, Route and Revision reconcilers and the admission webhook.
package main

import (
	"flag"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"csclr.dev/csclr/pkg/config"
	"csclr.dev/csclr/pkg/controller"
)

func main() {
	var opts controller.Options
	flag.StringVar(&opts.SystemNamespace, "system-namespace", config.SystemNamespace(),
		"namespace of csclr's ConfigMaps, leader election Lease, activator and webhook (env "+config.SystemNamespaceEnv+")")
	flag.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":9090", "address of the Prometheus metrics endpoint; 0 disables it")
	flag.StringVar(&opts.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	flag.BoolVar(&opts.LeaderElection, "leader-elect", true, "elect one active replica through a Lease in the system namespace")
	flag.StringVar(&opts.LeaderElectionID, "leader-election-id", "csclr-controller", "name of the leader election Lease")
	flag.BoolVar(&opts.Webhook, "webhook", true, "serve the admission webhook (defaulting and validation)")
	flag.IntVar(&opts.WebhookPort, "webhook-port", 8443, "TLS port of the admission webhook")
	flag.DurationVar(&opts.WebhookDrainPeriod, "webhook-drain-period", 10*time.Second,
		"after SIGTERM, keep the webhook serving this long so the endpoints drop this pod first (the leader reconciles meanwhile)")
	flag.StringVar(&opts.ScalerAddress, "scaler-address", "", "host:port of csclr's KEDA external-push scaler (default: the scaler Service in the system namespace)")
	flag.IntVar(&opts.Workers, "workers", 4, "reconciles run at once per kind (Service, Configuration, Route, Revision)")
	qps := flag.Float64("kube-api-qps", 100, "requests per second to the API server (client-side limit)")
	burst := flag.Int("kube-api-burst", 200, "burst above --kube-api-qps")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// client-go's default (20 QPS) makes a thousand Services queue for
	// minutes on the client side alone: each costs about 30 API calls.
	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	if err := controller.Run(ctrl.SetupSignalHandler(), cfg, opts); err != nil {
		ctrl.Log.Error(err, "controller stopped")
		os.Exit(1)
	}
}
