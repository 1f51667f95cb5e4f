package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"csclr.dev/csclr/pkg/bench/controlplane"
	"csclr.dev/csclr/pkg/devcluster"
)

func newBenchCommand() *cobra.Command {
	bench := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks against a running cluster; they print figures and never fail on a number",
	}
	bench.AddCommand(newControlPlaneBench(), newDataPathBench(), newDataPathServer(), newColdStartBench(), newParallelColdStartBench(), newLoadRampBench())
	return bench
}

func newControlPlaneBench() *cobra.Command {
	var kubeconfig, stateDir string
	o := controlplane.Options{
		Monitor: controlplane.MonitorConfig{
			Selector: "app=csclr-controller", Container: "controller", Lease: "csclr-controller",
			CgroupRoot: "/sys/fs/cgroup", Interval: 250 * time.Millisecond, MetricsPort: "9090",
		},
	}
	cmd := &cobra.Command{
		Use:   "control-plane",
		Short: "Create N Services at initial-scale 0, time them to Ready, and sample the controller's CPU and memory",
		Long: `Creates N Knative Services (initial-scale 0: no pod runs) in a new namespace,
watches them until Ready (latest generation observed), and reports the time until all are
Ready, per-Service create-to-Ready percentiles, the first 10 against the last 10, and the
csclr controller replicas' CPU time and memory (read from their cgroups: run it on the node).
The namespace is deleted afterwards, waiting at most --cleanup-timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Services < 1 || o.Parallel < 1 {
				return errors.New("--services and --parallel must be at least 1")
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", chooseKubeconfig(kubeconfig, stateDir))
			if err != nil {
				return fmt.Errorf("loading the kubeconfig: %w (pass --kubeconfig or --state-dir)", err)
			}
			// The whole run, cleanup included, is bounded.
			ctx, cancel := signalContext(o.CreateTimeout + o.ReadyTimeout + 5*time.Minute)
			defer cancel()
			if o.Image == "" {
				if o.Image, err = testAppImage(ctx, cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("finding or building the test app image (or pass --image): %w", err)
				}
			}
			if o.Namespace == "" {
				o.Namespace = fmt.Sprintf("csclr-bench-cp-%d", time.Now().Unix())
			}
			o.Progress = cmd.ErrOrStderr()
			// The benchmark's informer logs through controller-runtime;
			// its chatter is not part of the report.
			ctrllog.SetLogger(logr.Discard())
			res, err := controlplane.Run(ctx, cfg, o)
			if len(res.Timings) > 0 {
				res.Write(cmd.OutOrStdout())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: --state-dir's, else $KUBECONFIG, else the default csclr dev cluster's)")
	f.StringVar(&stateDir, "state-dir", "", "state directory of a csclr dev cluster")
	f.IntVar(&o.Services, "services", 1000, "how many Services to create")
	f.IntVar(&o.Parallel, "parallel", 10, "create calls in flight at once")
	f.Float64Var(&o.Rate, "rate", 0, "at most this many creates per second (0: as fast as --parallel allows)")
	f.StringVar(&o.Namespace, "namespace", "", "namespace to create and delete (must not exist; default csclr-bench-cp-<unix time>)")
	f.StringVar(&o.Image, "image", "", "container image of the Services (default: the local registry's csclr/app:v1, built from test/images/app with ko if missing)")
	f.DurationVar(&o.CreateTimeout, "create-timeout", 5*time.Minute, "stop creating after this long")
	f.DurationVar(&o.ReadyTimeout, "ready-timeout", 10*time.Minute, "stop waiting for Ready this long after the first create")
	f.DurationVar(&o.CleanupTimeout, "cleanup-timeout", 10*time.Minute, "wait at most this long for the namespace to be deleted")
	f.BoolVar(&o.Keep, "keep", false, "leave the namespace and its Services for inspection")
	f.StringVar(&o.Monitor.Namespace, "system-namespace", "csclr-system", "namespace of the csclr controller")
	f.StringVar(&o.Monitor.MetricsPort, "metrics-port", o.Monitor.MetricsPort, "the controller's Prometheus port, scraped through the API server")
	return cmd
}

// testAppImage is the test app already in the local registry (pinned to
// its digest, so the controller need not resolve the tag), built with ko
// only when missing: rebuilding would retag an image that concurrent e2e
// runs use, and costs the shared CPU.
func testAppImage(ctx context.Context, log io.Writer) (string, error) {
	ref, err := name.ParseReference(devcluster.KoRepo()+"/app:v1", name.Insecure)
	if err != nil {
		return "", err
	}
	headCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if desc, err := remote.Head(ref, remote.WithContext(headCtx)); err == nil {
		return ref.Context().Digest(desc.Digest.String()).String(), nil
	}
	return devcluster.KoBuild(ctx, devcluster.RepoRoot(), "csclr.dev/csclr/test/images/app", log)
}

// chooseKubeconfig picks the kubeconfig: the flag, the state dir's, then
// $KUBECONFIG, then the default dev cluster's.
func chooseKubeconfig(flag, stateDir string) string {
	switch {
	case flag != "":
		return flag
	case stateDir != "":
		return devcluster.Kubeconfig(stateDir)
	case os.Getenv("KUBECONFIG") != "":
		return os.Getenv("KUBECONFIG")
	}
	return devcluster.Kubeconfig(devcluster.DefaultStateDir())
}
