// Command queue is the sidecar in every revision pod: it enforces the
// revision's concurrency and timeouts, reports load and readiness, and
// drains on shutdown. All its settings come from the environment (see
// csclr.dev/csclr/pkg/queue, contract.go).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"csclr.dev/csclr/pkg/logbuf"
	"csclr.dev/csclr/pkg/queue"
	"csclr.dev/csclr/pkg/tracing"
)

func main() {
	runtime.GOMAXPROCS(queue.Procs(os.LookupEnv, runtime.GOMAXPROCS(0), runtime.NumCPU()))
	// Request lines are batched: a write per line costs throughput.
	out := logbuf.New(os.Stdout, 64<<10, 100*time.Millisecond)
	log := slog.New(slog.NewJSONHandler(out, nil))
	err := run(log)
	if err != nil {
		log.Error("queue sidecar stopped", "error", err)
	}
	_ = out.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := queue.LoadConfig(os.LookupEnv)
	if err != nil {
		return err
	}
	log = log.With("pod", cfg.Pod) // request lines carry the revision themselves
	parts := queue.NewParts(cfg, log)
	parts.Tracing, err = tracing.New(context.Background(), cfg.Tracing, tracing.Options{
		ServiceName: "csclr-queue", Pod: cfg.Pod, Namespace: cfg.Namespace,
		OnError: func(err error) {
			log.Warn("exporting trace spans failed", "endpoint", cfg.Tracing.Endpoint, "error", err)
		},
	})
	if err != nil {
		return err
	}
	ls, err := queue.Listen(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("queue sidecar serving", "revision", cfg.RevisionKey(), "port", cfg.ServingPort, "userPort", cfg.UserPort,
		"containerConcurrency", cfg.ContainerConcurrency, "queueDepth", cfg.QueueDepth, "timeout", cfg.Timeout.String(),
		"tracing", cfg.Tracing.Enabled())
	err = queue.Serve(ctx, parts, ls)
	// After the drain: the spans of the last requests are still batched.
	flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ferr := parts.Tracing.Shutdown(flushCtx); ferr != nil {
		log.Warn("spans of the last requests were lost", "error", ferr)
	}
	return err
}
