package datapath

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"csclr.dev/csclr/pkg/queue"
)

// child is one server process of the benchmark.
type child struct {
	name string
	cmd  *exec.Cmd
	url  string
	done chan error
	// stdin is the child's stdin, for children that end when it closes.
	stdin io.Closer
}

// Pid is the process to read CPU time from.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// start runs cmd with the death signal set (so that a killed benchmark
// leaves no server behind) and its stderr on errOut.
func start(name string, cmd *exec.Cmd, errOut io.Writer) (*child, error) {
	cmd.Stderr = errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	return c, nil
}

// startSelf re-executes this binary as a child server of role (the hidden
// command that calls Serve) and reads the address it prints.
func startSelf(ctx context.Context, self []string, role, target string, errOut io.Writer) (*child, error) {
	args := append(append([]string{}, self[1:]...), "--role", role, "--target", target)
	cmd := exec.Command(self[0], args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe() // closed by stop: the child's signal to end
	if err != nil {
		return nil, err
	}
	c, err := start(role, cmd, errOut)
	if err != nil {
		return nil, err
	}
	c.stdin = stdin
	addr, err := readAddress(ctx, stdout)
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("the %s child did not report its address: %w", role, err)
	}
	c.url = "http://" + addr + "/"
	return c, nil
}

func readAddress(ctx context.Context, r io.Reader) (string, error) {
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			if a, ok := strings.CutPrefix(s.Text(), listenLine); ok {
				line <- a
				break
			}
		}
		_, _ = io.Copy(io.Discard, r) // keep the pipe drained
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case a := <-line:
		return a, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// startQueue runs the real sidecar binary in front of the backend on
// userPort, configured through its environment as the revision reconciler
// configures it (containerConcurrency and the request log from o), with
// free loopback ports and no drain period.
func startQueue(ctx context.Context, o Options, userPort int, errOut io.Writer) (*child, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.QueueBinary)
	cmd.Env = append(os.Environ(),
		queue.EnvServingPort+"="+strconv.Itoa(ports[0]),
		queue.EnvAdminPort+"="+strconv.Itoa(ports[1]),
		queue.EnvMetricsPort+"="+strconv.Itoa(ports[2]),
		queue.EnvUserPort+"="+strconv.Itoa(userPort),
		queue.EnvContainerConcurrency+"="+strconv.Itoa(o.ContainerConcurrency),
		queue.EnvTimeoutSeconds+"=300",
		queue.EnvRequestLog+"="+strconv.FormatBool(o.QueueRequestLog),
		queue.EnvDrainPeriod+"=0s",
		queue.EnvNamespace+"=bench", queue.EnvService+"=bench", queue.EnvConfiguration+"=bench",
		queue.EnvRevision+"=bench-00001", queue.EnvPodName+"=bench-00001-pod", queue.EnvPodIP+"=127.0.0.1",
	)
	// Request lines go where a pod's stdout would; /dev/null is the
	// cheapest such sink, so the figure is a lower bound of that cost.
	cmd.Stdout = nil
	c, err := start("queue sidecar", cmd, errOut)
	if err != nil {
		return nil, err
	}
	c.url = fmt.Sprintf("http://127.0.0.1:%d/", ports[0])
	if err := waitServing(ctx, c); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// freePorts asks the kernel for n free loopback ports at once (so that they
// differ) and releases them for the sidecar to take.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitServing polls c's URL until it answers 200, at most 10 s.
func waitServing(ctx context.Context, c *child) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-c.done:
			return fmt.Errorf("the %s exited before serving: %v", c.name, err)
		case <-ctx.Done():
			return fmt.Errorf("the %s did not answer 200 on %s within 10s", c.name, c.url)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the child: stdin closed and SIGTERM, then SIGKILL after 3 s.
func (c *child) stop() {
	if c == nil {
		return
	}
	if c.stdin != nil {
		c.stdin.Close()
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// BuildQueue compiles cmd/queue of the checkout at repoRoot into dir.
func BuildQueue(ctx context.Context, repoRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "queue")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/queue")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/queue in %s: %w\n%s", repoRoot, err, out)
	}
	return bin, nil
}

var errNoQueue = errors.New("no queue binary: set Options.QueueBinary (BuildQueue makes one)")
