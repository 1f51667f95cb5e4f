package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"csclr.dev/csclr/pkg/bench/loadramp"
)

func newLoadRampBench() *cobra.Command {
	var kubeconfig, stateDir, writeTo string
	o := loadramp.Options{SystemNamespace: "csclr-system", ActivatorService: "csclr-activator"}
	cmd := &cobra.Command{
		Use:   "load-ramp",
		Short: "Ramp open-loop load from 0 to --max-rps through the activator onto a Service at zero while KEDA scales it",
		Long: `On a running csclr dev cluster (run it on the node: it reaches the gateway's ClusterIP),
creates one Knative Service at initial-scale 0 (scaling on --metric with --target per pod, at
most --max-scale pods) in a new namespace, waits until it and its ScaledObject are Ready with
no pod, then sends an open-loop load through the gateway: the rate climbs linearly from 0 to
--max-rps over --ramp, then stays for --hold. Requests are due at fixed moments whatever the
answers do; at most --in-flight are outstanding, and a request due while all are is counted
"not sent" rather than waited for. Reports requests, failures by status or error kind,
p50/p95/p99 per tenth of the ramp and for the hold, the rate achieved, how late the generator
sent (its own lag and CPU: on 2 cores it competes with the cluster), and the revision's pods
over time. The namespace is deleted afterwards (--cleanup-timeout), also after Ctrl-C,
unless --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(o.Schedule.Validate(), o.Scaling.Validate()); err != nil {
				return err
			}
			if o.InFlight < 1 {
				return errors.New("--in-flight must be at least 1")
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", chooseKubeconfig(kubeconfig, stateDir))
			if err != nil {
				return fmt.Errorf("loading the kubeconfig: %w (pass --kubeconfig or --state-dir)", err)
			}
			// Three waits of ReadyTimeout, the load and its last requests,
			// and the cleanup.
			bound := 3*o.ReadyTimeout + o.Settle + o.Schedule.Duration() + o.RequestTimeout + o.CleanupTimeout + time.Minute
			ctx, cancel := signalContext(bound)
			defer cancel()
			if o.Image == "" {
				if o.Image, err = testAppImage(ctx, cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("finding or building the test app image (or pass --image): %w", err)
				}
			}
			if o.Namespace == "" {
				o.Namespace = fmt.Sprintf("csclr-bench-ramp-%d", time.Now().Unix())
			}
			o.Progress = cmd.ErrOrStderr()
			res, err := loadramp.Run(ctx, cfg, o)
			if len(res.Load.Records) > 0 {
				err = errors.Join(err, report(cmd.OutOrStdout(), writeTo, "csclr bench load-ramp", res.Write))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: --state-dir's, else $KUBECONFIG, else the default csclr dev cluster's)")
	f.StringVar(&stateDir, "state-dir", "", "state directory of a csclr dev cluster")
	f.Float64Var(&o.Schedule.MaxRPS, "max-rps", 3000, "the rate the ramp climbs to, requests per second")
	f.DurationVar(&o.Schedule.Ramp, "ramp", time.Minute, "how long the rate climbs from 0 to --max-rps")
	f.DurationVar(&o.Schedule.Hold, "hold", 30*time.Second, "how long --max-rps is held after the ramp")
	f.IntVar(&o.InFlight, "in-flight", 512, "the most requests outstanding at once (and connections)")
	f.StringVar(&o.Scaling.Metric, "metric", "rps", "autoscaling.knative.dev/metric of the Service: rps or concurrency")
	f.Float64Var(&o.Scaling.Target, "target", 300, "autoscaling.knative.dev/target: per pod (Knative scales at 70 % of it)")
	f.IntVar(&o.Scaling.MaxScale, "max-scale", 10, "autoscaling.knative.dev/max-scale (0: unlimited)")
	f.StringVar(&o.Namespace, "namespace", "", "namespace to create and delete (must not exist; default csclr-bench-ramp-<unix time>)")
	f.StringVar(&o.Image, "image", "", "container image of the Service (default: the local registry's csclr/app:v1, built from test/images/app with ko if missing)")
	f.StringVar(&o.Gateway, "gateway", "", "host:port to send requests to (default: the activator Service's ClusterIP:80)")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", 3*time.Minute, "wait at most this long for the Service to be Ready at zero (and as long for its ScaledObject)")
	f.DurationVar(&o.RequestTimeout, "request-timeout", 30*time.Second, "give up on a request after this long (the first ones wait for the cold start)")
	f.DurationVar(&o.Settle, "settle", 5*time.Second, "wait after the ScaledObject is Ready before the load (KEDA opens its scaler stream meanwhile)")
	f.DurationVar(&o.CleanupTimeout, "cleanup-timeout", 10*time.Minute, "wait at most this long for the namespace to be deleted")
	f.BoolVar(&o.Keep, "keep", false, "leave the namespace and its Service for inspection")
	f.StringVar(&writeTo, "write-benchmarks", "", "also rewrite this file's generated load-ramp section (e.g. BENCHMARKS.md)")
	return cmd
}
