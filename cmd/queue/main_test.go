package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestRunRejectsBadEnvironment(t *testing.T) {
	t.Setenv("CONTAINER_CONCURRENCY", "lots")
	err := run(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "CONTAINER_CONCURRENCY") {
		t.Fatalf("run with CONTAINER_CONCURRENCY=lots: %v, want an error naming the variable", err)
	}
}
