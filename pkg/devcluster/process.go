package devcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A daemon is one long-running process of the cluster. It outlives the csclr
// command that starts it (own session, pid file) until `dev down`.
type daemon struct {
	name  string
	bin   string
	args  []string
	env   []string
	ports []int // must be free before start; their owner is named when not
	// ready reports nil once the daemon serves.
	ready func(ctx context.Context) error
	// hint is the likely fix printed when the daemon does not become ready.
	hint string
}

// pid returns the daemon's process id if it is running.
func (l layout) pid(name string) (int, bool) {
	data, err := os.ReadFile(l.pidFile(name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processAlive(pid)
}

func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie still answers kill(0); it is not running.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// start launches the daemon unless it already runs, then waits until ready.
func (l layout) start(ctx context.Context, d daemon, log Logger) error {
	if _, ok := l.pid(d.name); ok {
		log.Printf("%s: already running", d.name)
		return l.waitReady(ctx, d)
	}
	for _, p := range d.ports {
		// A process of ours that just died may hold its ports for a moment
		// while its last threads exit.
		if err := waitPortFree(p, 5*time.Second); err != nil {
			return fmt.Errorf("%s cannot start: %w", d.name, err)
		}
	}
	if err := os.MkdirAll(l.path("logs"), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(l.path("run"), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(l.logFile(d.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s %s %s\n", time.Now().Format(time.RFC3339), d.bin, strings.Join(d.args, " "))
	cmd := exec.Command(d.bin, d.args...)
	cmd.Env = append(os.Environ(), d.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = l.root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", d.name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(l.pidFile(d.name), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	// Reap the child if it exits while we still run, so a crash is seen as
	// "not alive" rather than a zombie.
	go func() { _ = cmd.Wait() }()
	return l.waitReady(ctx, d)
}

func (l layout) waitReady(ctx context.Context, d daemon) error {
	if d.ready == nil {
		return nil
	}
	var last error
	for {
		if _, ok := l.pid(d.name); !ok {
			return l.failure(d, errors.New("the process exited"))
		}
		if last = d.ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return l.failure(d, fmt.Errorf("not ready in time: %v", last))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (l layout) failure(d daemon, err error) error {
	msg := fmt.Sprintf("%s: %v\n  log: %s", d.name, err, l.logFile(d.name))
	if tail := tailFile(l.logFile(d.name), 8); tail != "" {
		msg += "\n  last lines:\n    " + strings.ReplaceAll(tail, "\n", "\n    ")
	}
	if d.hint != "" {
		msg += "\n  likely fix: " + d.hint
	}
	return errors.New(msg)
}

// stop sends SIGTERM to the daemon's process group, then SIGKILL after grace.
func (l layout) stop(name string, grace time.Duration) bool {
	pid, ok := l.pid(name)
	defer os.Remove(l.pidFile(name))
	if !ok {
		return false
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !processAlive(pid) {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50 && processAlive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// portFree reports an error naming the owner when a TCP port is taken.
func portFree(port int) error {
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err == nil {
		ln.Close()
		return nil
	}
	owner := portOwner(port)
	if owner == "" {
		owner = "another process"
	}
	return fmt.Errorf("port %d is in use by %s: stop it (or `csclr dev down` if it is an earlier cluster) and retry", port, owner)
}

func waitPortFree(port int, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := portFree(port)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// portOwner names the process listening on a TCP port, best effort.
func portOwner(port int) string {
	out, err := exec.Command("ss", "-Hltnp", fmt.Sprintf("sport = :%d", port)).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return ""
	}
	line := strings.TrimSpace(string(out))
	if i := strings.Index(line, "users:"); i >= 0 {
		return line[i:]
	}
	return line
}

func tailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
