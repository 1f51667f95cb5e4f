package devcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Logger receives progress lines.
type Logger interface {
	Printf(format string, args ...any)
}

// progress prints each line with the time elapsed since it was made.
type progress struct {
	out   io.Writer
	start time.Time
}

// NewProgress returns a Logger that prefixes lines with the elapsed time.
func NewProgress(out io.Writer) Logger { return &progress{out: out, start: time.Now()} }

func (p *progress) Printf(format string, args ...any) {
	fmt.Fprintf(p.out, "[%6.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func stderrLogger() Logger { return NewProgress(os.Stderr) }

// runLogged runs a command with its output appended to log; on failure the
// error carries the last lines of output.
func runLogged(ctx context.Context, log io.Writer, dir string, env []string, name string, args ...string) error {
	return runLoggedOut(ctx, log, nil, dir, env, name, args...)
}

// runLoggedOut is runLogged with standard output captured in stdout (when
// not nil) instead of the log.
func runLoggedOut(ctx context.Context, log, stdout io.Writer, dir string, env []string, name string, args ...string) error {
	fmt.Fprintf(log, "\n$ %s %s\n", name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var tail tailBuffer
	cmd.Stderr = io.MultiWriter(log, &tail)
	cmd.Stdout = cmd.Stderr
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail.String())
	}
	return nil
}

// tailBuffer keeps the last 2 KiB written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }

func jsonUnmarshal(data string, v any) error { return json.Unmarshal([]byte(data), v) }
