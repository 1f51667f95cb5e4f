package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"csclr.dev/csclr/pkg/devcluster"
)

func newDevCommand() *cobra.Command {
	var opts devcluster.Options
	dev := &cobra.Command{
		Use:   "dev",
		Short: "A local single-node Kubernetes cluster built from source, with KEDA and csclr installed",
	}
	dev.PersistentFlags().StringVar(&opts.StateDir, "state-dir", devcluster.DefaultStateDir(), "where the cluster keeps its state ($CSCLR_DEV_DIR)")
	dev.PersistentFlags().StringVar(&opts.NodeIP, "node-ip", "", "the node's address pods reach the host on (default: the address of the default route)")

	var timeout time.Duration
	up := &cobra.Command{
		Use:   "up",
		Short: "Build (once, cached) and start the cluster; idempotent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(timeout)
			defer cancel()
			return devcluster.Up(ctx, opts, devcluster.NewProgress(cmd.ErrOrStderr()))
		},
	}
	up.Flags().BoolVar(&opts.ControlPlaneOnly, "control-plane-only", false, "start etcd and kube-apiserver only")
	up.Flags().BoolVar(&opts.SkipCsclr, "skip-csclr", false, "do not build and install csclr's own components")
	up.Flags().DurationVar(&timeout, "timeout", 45*time.Minute, "give up after this long (a cold build takes up to ~25 minutes)")

	down := &cobra.Command{
		Use:   "down",
		Short: "Stop every process of the cluster and remove its state (built parts stay cached)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(5 * time.Minute)
			defer cancel()
			return devcluster.Down(ctx, opts, devcluster.NewProgress(cmd.ErrOrStderr()))
		},
	}

	status := &cobra.Command{
		Use:   "status",
		Short: "Say which of the cluster's processes run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := devcluster.Status(opts)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "COMPONENT\tSTATE\tPID")
			running := 0
			for _, c := range list {
				state, pid := "stopped", "-"
				if c.Running {
					state, pid = "running", fmt.Sprint(c.PID)
					running++
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, state, pid)
			}
			w.Flush()
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %d running; state in %s\n", running, len(list), opts.StateDir)
			return nil
		},
	}

	env := &cobra.Command{
		Use:   "env",
		Short: "Print shell exports for the cluster: eval \"$(csclr dev env)\"",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := devcluster.Env(opts)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), s)
			return nil
		},
	}

	deps := &cobra.Command{
		Use:   "deps",
		Short: "Install the Debian packages the node needs (containerd, runc, CNI plugins, iptables, conntrack)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(10 * time.Minute)
			defer cancel()
			return devcluster.InstallPackages(ctx, devcluster.NewProgress(cmd.ErrOrStderr()))
		},
	}

	assets := &cobra.Command{
		Use:   "envtest-assets",
		Short: "Build (once) etcd, kube-apiserver and kubectl and print the directory holding them (KUBEBUILDER_ASSETS)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(30 * time.Minute)
			defer cancel()
			dir, err := devcluster.EnvtestAssets(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), dir)
			return nil
		},
	}
	dev.AddCommand(up, down, status, env, deps, assets, newSampleCommand(&opts))
	return dev
}

// signalContext ends on SIGINT/SIGTERM or after timeout, so that no step
// hangs forever.
func signalContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

func newSampleCommand(opts *devcluster.Options) *cobra.Command {
	return &cobra.Command{
		Use:   "sample",
		Short: "Deploy the sample app on the running cluster and print its answer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(10 * time.Minute)
			defer cancel()
			body, err := devcluster.Sample(ctx, *opts, devcluster.NewProgress(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), body)
			return nil
		},
	}
}
