//go:build e2e

// Package e2e runs csclr on the full local cluster (`csclr dev`): TestMain
// brings the cluster up, the tests use it, and TestMain tears it down and
// checks that nothing of it is left running.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"csclr.dev/csclr/pkg/devcluster"
)

// cluster is the cluster every test of this package shares.
var cluster struct {
	opts   devcluster.Options
	config *rest.Config
	kube   *kubernetes.Clientset
	repo   string
}

// CSCLR_E2E_KEEP=1 leaves the cluster running after the tests (and reuses a
// running one), for iterating on a test. CSCLR_E2E_REUSE=1 also skips `up`:
// the tests run against the cluster and csclr as they are.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	keep := os.Getenv("CSCLR_E2E_KEEP") == "1"
	cluster.repo = devcluster.RepoRoot()
	cluster.opts = devcluster.Options{StateDir: os.Getenv("CSCLR_DEV_DIR")}
	if cluster.opts.StateDir == "" {
		cluster.opts.StateDir = filepath.Join(os.TempDir(), "csclr-e2e")
	}
	rulesBefore := clusterRules()
	log := devcluster.NewProgress(os.Stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	var upErr error
	if os.Getenv("CSCLR_E2E_REUSE") == "1" {
		keep = true
	} else {
		upErr = devcluster.Up(ctx, cluster.opts, log)
	}
	code := 1
	if upErr != nil {
		fmt.Fprintf(os.Stderr, "e2e: bringing the cluster up: %v\n", upErr)
	} else if err := connect(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
	} else {
		code = m.Run()
	}
	if keep {
		return code
	}
	if err := devcluster.Down(context.Background(), cluster.opts, log); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: tearing the cluster down: %v\n", err)
		code = 1
	}
	if left := leftovers(cluster.opts.StateDir); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: processes of the cluster left after down:\n  %s\n", strings.Join(left, "\n  "))
		code = 1
	}
	if after := clusterRules(); after > rulesBefore {
		fmt.Fprintf(os.Stderr, "e2e: %d Kubernetes/CNI iptables lines left after down (%d before up)\n", after, rulesBefore)
		code = 1
	}
	if _, err := os.Stat("/sys/class/net/cni0"); err == nil {
		fmt.Fprintln(os.Stderr, "e2e: the cni0 bridge is left after down")
		code = 1
	}
	return code
}

// clusterRules counts the iptables lines of kube-proxy, the kubelet and CNI.
func clusterRules() int {
	n := 0
	for _, bin := range []string{"iptables-save", "ip6tables-save"} {
		out, _ := exec.Command(bin).Output()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "KUBE-") || strings.Contains(line, "CNI-") {
				n++
			}
		}
	}
	return n
}

func connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", devcluster.Kubeconfig(mustAbs(cluster.opts.StateDir)))
	if err != nil {
		return err
	}
	cluster.config = cfg
	cluster.kube, err = kubernetes.NewForConfig(cfg)
	return err
}

func mustAbs(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return abs
}

// leftovers lists running processes that belong to the cluster: any whose
// command line names its state directory or the cluster's binaries, and
// containerd shims.
func leftovers(stateDir string) []string {
	stateDir = mustAbs(stateDir)
	markers := []string{stateDir + "/", devcluster.BinDir() + "/", "containerd-shim"}
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name() == fmt.Sprint(os.Getpid()) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(string(cmdline), "\x00", " ")
		for _, m := range markers {
			if strings.Contains(cmd, m) {
				found = append(found, e.Name()+": "+cmd)
				break
			}
		}
	}
	return found
}
