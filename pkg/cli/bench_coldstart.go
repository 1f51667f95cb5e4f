package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"csclr.dev/csclr/pkg/bench/coldstart"
)

func newColdStartBench() *cobra.Command {
	var kubeconfig, stateDir, writeTo string
	o := coldstart.Options{SystemNamespace: "csclr-system", ActivatorService: "csclr-activator", ScalerPort: 9093}
	cmd := &cobra.Command{
		Use:   "cold-start",
		Short: "Time first requests to Services at zero against their pods' own start, and the scaler's active signal",
		Long: `On a running csclr dev cluster (run it on the node: it reaches the gateway's ClusterIP and
the activator pods' IPs), creates K Knative Services at initial-scale 0 in a new namespace, then
sends each its first request through the gateway, one after another, while a pod watch records
when the revision's pod was created and became Ready, and a StreamIsActive stream on every
activator (as KEDA holds one) records when the scaler said "active". Reports per request and
p50/p99: total, pod created→Ready, the overhead (total minus that), request→pod created and
request→scaler active. The namespace is deleted afterwards (--cleanup-timeout) unless --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Services < 1 {
				return errors.New("--services must be at least 1")
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", chooseKubeconfig(kubeconfig, stateDir))
			if err != nil {
				return fmt.Errorf("loading the kubeconfig: %w (pass --kubeconfig or --state-dir)", err)
			}
			bound := 2*o.ReadyTimeout + o.Settle + time.Duration(o.Services)*(o.RequestTimeout+o.SignalSettle+10*time.Second) + o.CleanupTimeout + time.Minute
			ctx, cancel := signalContext(bound)
			defer cancel()
			if o.Image == "" {
				if o.Image, err = testAppImage(ctx, cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("finding or building the test app image (or pass --image): %w", err)
				}
			}
			if o.Namespace == "" {
				o.Namespace = fmt.Sprintf("csclr-bench-cold-%d", time.Now().Unix())
			}
			o.Progress = cmd.ErrOrStderr()
			res, err := coldstart.Run(ctx, cfg, o)
			if len(res.Samples) > 0 {
				err = errors.Join(err, report(cmd.OutOrStdout(), writeTo, "csclr bench cold-start", res.Write))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: --state-dir's, else $KUBECONFIG, else the default csclr dev cluster's)")
	f.StringVar(&stateDir, "state-dir", "", "state directory of a csclr dev cluster")
	f.IntVar(&o.Services, "services", 10, "K: Services at zero, each sent one cold request")
	f.StringVar(&o.Namespace, "namespace", "", "namespace to create and delete (must not exist; default csclr-bench-cold-<unix time>)")
	f.StringVar(&o.Image, "image", "", "container image of the Services (default: the local registry's csclr/app:v1, built from test/images/app with ko if missing)")
	f.StringVar(&o.Gateway, "gateway", "", "host:port to send requests to (default: the activator Service's ClusterIP:80)")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", 3*time.Minute, "wait at most this long for the Services to be Ready at zero")
	f.DurationVar(&o.RequestTimeout, "request-timeout", 2*time.Minute, "give up on one cold request after this long")
	f.DurationVar(&o.Settle, "settle", 5*time.Second, "wait after every ScaledObject is Ready before the first request (KEDA opens its scaler stream meanwhile)")
	f.DurationVar(&o.SignalSettle, "signal-settle", 500*time.Millisecond, "wait between opening the scaler streams and sending the request")
	f.DurationVar(&o.CleanupTimeout, "cleanup-timeout", 10*time.Minute, "wait at most this long for the namespace to be deleted")
	f.BoolVar(&o.Keep, "keep", false, "leave the namespace and its Services for inspection")
	f.StringVar(&writeTo, "write-benchmarks", "", "also rewrite this file's generated cold-start section (e.g. BENCHMARKS.md)")
	return cmd
}
