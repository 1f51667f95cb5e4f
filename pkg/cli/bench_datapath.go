package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"csclr.dev/csclr/pkg/bench/datapath"
	"csclr.dev/csclr/pkg/bench/measure"
	"csclr.dev/csclr/pkg/devcluster"
)

// dataPathServerUse is the hidden command the data-path benchmark runs its
// backend and bare proxy as: the same binary, so that each is a process of
// its own whose CPU time can be read.
const dataPathServerUse = "data-path-server"

func newDataPathBench() *cobra.Command {
	o := datapath.Options{QueueRequestLog: true}
	var writeTo string
	cmd := &cobra.Command{
		Use:   "data-path",
		Short: "Warm-path latency, throughput and CPU of the queue sidecar against direct calls and a bare ReverseProxy hop",
		Long: `Starts a trivial backend, a bare httputil.ReverseProxy in front of it and the real
queue sidecar (cmd/queue, built from this checkout unless --queue-binary) as separate processes
on loopback, then measures the three paths interleaved, round after round: a closed loop
(max rps at --connections) and a fixed rate (p50/p99 at --rate), reading each proxy's CPU
time from /proc/<pid>/stat. Prints medians over the rounds and the ratios of
design/benchmarks.md. Quick look: --rounds 3 --duration 1.5s (about 30 s).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(time.Duration(o.Rounds)*6*(o.Duration+time.Second) + 5*time.Minute)
			defer cancel()
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o.Self = []string{self, "bench", dataPathServerUse}
			o.Progress = cmd.ErrOrStderr()
			if o.QueueBinary == "" {
				dir, err := os.MkdirTemp("", "csclr-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				fmt.Fprintln(o.Progress, "building cmd/queue")
				if o.QueueBinary, err = datapath.BuildQueue(ctx, devcluster.RepoRoot(), dir); err != nil {
					return err
				}
			}
			res, err := datapath.Run(ctx, o)
			if err != nil {
				return err
			}
			return report(cmd.OutOrStdout(), writeTo, "csclr bench data-path", res.Write)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Rounds, "rounds", 5, "rounds of A B C; the figures are medians over them")
	f.DurationVar(&o.Duration, "duration", 4*time.Second, "length of each phase (closed loop, fixed rate) of each path in a round")
	f.DurationVar(&o.Warmup, "warmup", time.Second, "closed-loop warm-up of each path before the first round")
	f.IntVar(&o.Connections, "connections", 16, "closed-loop connections (and the most requests in flight at the fixed rate)")
	f.Float64Var(&o.Rate, "rate", 1000, "requests per second of the fixed-rate phase: one every path sustains")
	f.IntVar(&o.ContainerConcurrency, "container-concurrency", 0, "the sidecar's CONTAINER_CONCURRENCY (0: unlimited, Knative's default)")
	f.BoolVar(&o.QueueRequestLog, "queue-request-log", true, "the sidecar's per-request log line (on by default, as deployed)")
	f.StringVar(&o.QueueBinary, "queue-binary", "", "a built cmd/queue (default: go build it from this checkout)")
	f.StringVar(&writeTo, "write-benchmarks", "", "also rewrite this file's generated data-path section (e.g. BENCHMARKS.md)")
	return cmd
}

// newDataPathServer is the hidden child of `bench data-path`: it serves
// until its stdin closes (the parent ended).
func newDataPathServer() *cobra.Command {
	var role, target string
	cmd := &cobra.Command{
		Use:    dataPathServerUse,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stop := make(chan struct{})
			go func() {
				_, _ = io.Copy(io.Discard, cmd.InOrStdin())
				close(stop)
			}()
			return datapath.Serve(role, target, cmd.OutOrStdout(), stop)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", datapath.RoleBackend+" or "+datapath.RoleBare)
	cmd.Flags().StringVar(&target, "target", "", "the backend's URL (for "+datapath.RoleBare+")")
	return cmd
}

// report prints a benchmark's markdown to out and, with a file, rewrites
// that benchmark's generated section of it, headed by the date and the
// command line that produced it.
func report(out io.Writer, file, section string, write func(io.Writer)) error {
	var b bytes.Buffer
	write(&b)
	if _, err := out.Write(b.Bytes()); err != nil || file == "" {
		return err
	}
	body := fmt.Sprintf("%s, `%s`:\n\n%s", time.Now().Format("2006-01-02 15:04"), commandLine(), b.String())
	if err := measure.UpdateFile(file, section, body); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwrote the %q section of %s\n", section, file)
	return nil
}

// commandLine is how this run was invoked, without the binary's path and
// the --write-benchmarks flag.
func commandLine() string {
	var args []string
	skip := false
	for _, a := range os.Args[1:] {
		switch {
		case skip:
			skip = false
		case a == "--write-benchmarks":
			skip = true
		case strings.HasPrefix(a, "--write-benchmarks="):
		default:
			args = append(args, a)
		}
	}
	return strings.Join(append([]string{"csclr"}, args...), " ")
}
