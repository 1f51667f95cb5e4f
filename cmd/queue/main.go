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
	"syscall"

	"csclr.dev/csclr/pkg/queue"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(log); err != nil {
		log.Error("queue sidecar stopped", "error", err)
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
	ls, err := queue.Listen(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("queue sidecar serving", "revision", cfg.RevisionKey(), "port", cfg.ServingPort, "userPort", cfg.UserPort,
		"containerConcurrency", cfg.ContainerConcurrency, "queueDepth", cfg.QueueDepth, "timeout", cfg.Timeout.String())
	return queue.Serve(ctx, queue.NewParts(cfg, log), ls)
}
