package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"csclr.dev/csclr/pkg/bench/parallelcold"
)

func newParallelColdStartBench() *cobra.Command {
	var kubeconfig, stateDir, writeTo string
	o := parallelcold.Options{SystemNamespace: "csclr-system", ActivatorService: "csclr-activator"}
	cmd := &cobra.Command{
		Use:   "parallel-cold-start",
		Short: "Send the first requests of N Services at zero all at once, against their pods' own start",
		Long: `On a running csclr dev cluster (run it on the node: it reaches the gateway's ClusterIP),
creates N Knative Services at initial-scale 0 in a new namespace, waits until every one and its
ScaledObject are Ready and no pod runs, then sends all N first requests through the gateway at
the same moment, while a pod watch records when each revision's pod was created and became
Ready. Reports p50/p95/max of the cold requests, of the pods' own created→Ready time and of the
overhead (the difference), the failures, and the slowest requests, next to design/benchmarks.md's
goals (N=25: p95 ≤ 1.5 s; N=100: p95 ≤ 10 s). The namespace is deleted afterwards
(--cleanup-timeout), also after Ctrl-C, unless --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Services < 1 {
				return errors.New("--services must be at least 1")
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", chooseKubeconfig(kubeconfig, stateDir))
			if err != nil {
				return fmt.Errorf("loading the kubeconfig: %w (pass --kubeconfig or --state-dir)", err)
			}
			// Three waits of ReadyTimeout (Services, ScaledObjects, no pod),
			// the requests (all at once, each then waiting up to 10 s for
			// its pod's Ready event) and the cleanup.
			bound := 3*o.ReadyTimeout + o.Settle + o.RequestTimeout + 10*time.Second + o.CleanupTimeout + time.Minute
			ctx, cancel := signalContext(bound)
			defer cancel()
			if o.Image == "" {
				if o.Image, err = testAppImage(ctx, cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("finding or building the test app image (or pass --image): %w", err)
				}
			}
			if o.Namespace == "" {
				o.Namespace = fmt.Sprintf("csclr-bench-pcold-%d", time.Now().Unix())
			}
			o.Progress = cmd.ErrOrStderr()
			res, err := parallelcold.Run(ctx, cfg, o)
			if len(res.Samples) > 0 {
				err = errors.Join(err, report(cmd.OutOrStdout(), writeTo, "csclr bench parallel-cold-start", res.Write))
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: --state-dir's, else $KUBECONFIG, else the default csclr dev cluster's)")
	f.StringVar(&stateDir, "state-dir", "", "state directory of a csclr dev cluster")
	f.IntVar(&o.Services, "services", 25, "N: Services at zero, all sent their first request at once")
	f.StringVar(&o.Namespace, "namespace", "", "namespace to create and delete (must not exist; default csclr-bench-pcold-<unix time>)")
	f.StringVar(&o.Image, "image", "", "container image of the Services (default: the local registry's csclr/app:v1, built from test/images/app with ko if missing)")
	f.StringVar(&o.Gateway, "gateway", "", "host:port to send requests to (default: the activator Service's ClusterIP:80)")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", 10*time.Minute, "wait at most this long for the Services to be Ready at zero (and as long for their ScaledObjects)")
	f.DurationVar(&o.RequestTimeout, "request-timeout", 2*time.Minute, "give up on a cold request after this long")
	f.DurationVar(&o.Settle, "settle", 5*time.Second, "wait after every ScaledObject is Ready before the requests (KEDA opens its scaler streams meanwhile)")
	f.DurationVar(&o.CleanupTimeout, "cleanup-timeout", 10*time.Minute, "wait at most this long for the namespace to be deleted")
	f.BoolVar(&o.Keep, "keep", false, "leave the namespace and its Services for inspection")
	f.StringVar(&writeTo, "write-benchmarks", "", "also rewrite this file's generated parallel-cold-start section (e.g. BENCHMARKS.md)")
	return cmd
}
