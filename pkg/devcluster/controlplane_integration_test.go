//go:build integration

package devcluster

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests start the real etcd and kube-apiserver on the cluster's fixed
// ports; they need no `csclr dev` cluster running on this machine.

func controlPlane(t *testing.T) (Options, layout) {
	t.Helper()
	o := Options{StateDir: t.TempDir(), ControlPlaneOnly: true}
	t.Cleanup(func() { _ = Down(context.Background(), o, NewProgress(testWriter{t})) })
	return o, layout{root: o.StateDir}
}

func TestControlPlaneUpIsIdempotentAndDownLeavesNothing(t *testing.T) {
	o, l := controlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := NewProgress(testWriter{t})
	start := time.Now()
	if err := Up(ctx, o, log); err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane up in %s", time.Since(start).Round(time.Millisecond))
	if err := apiReady(l, "/readyz")(ctx); err != nil {
		t.Fatalf("apiserver not ready after Up: %v", err)
	}
	pids := map[string]int{}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		pids[name], _ = l.pid(name)
	}

	if err := Up(ctx, o, log); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	for name, pid := range pids {
		if now, ok := l.pid(name); !ok || now != pid {
			t.Errorf("second Up restarted %s (pid %d -> %d)", name, pid, now)
		}
	}

	if err := Down(ctx, o, log); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		if processAlive(pid) {
			t.Errorf("%s (pid %d) still runs after Down", name, pid)
		}
	}
	if _, err := os.Stat(o.StateDir); !os.IsNotExist(err) {
		t.Errorf("state directory left after Down: %v", err)
	}
	for _, port := range []int{etcdClientPort, apiserverPort} {
		if err := portFree(port); err != nil {
			t.Errorf("after Down: %v", err)
		}
	}
}

func TestUpOnBusyPortFailsFastNamingThePort(t *testing.T) {
	o, _ := controlPlane(t)
	ln, err := net.Listen("tcp", ":2379")
	if err != nil {
		t.Skipf("port 2379 is not free on this machine: %v", err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	EnvtestAssets(ctx) // build outside the timed part
	start := time.Now()
	err = Up(ctx, o, NewProgress(testWriter{t}))
	if err == nil {
		t.Fatal("Up succeeded with etcd's port taken")
	}
	if !strings.Contains(err.Error(), "port 2379 is in use") || !strings.Contains(err.Error(), "start etcd") {
		t.Errorf("error does not name the step and the port: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Up took %s to fail", d)
	}
}

func TestUpRepairsAHalfStartedCluster(t *testing.T) {
	o, l := controlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log := NewProgress(testWriter{t})
	if err := Up(ctx, o, log); err != nil {
		t.Fatal(err)
	}
	pid, _ := l.pid("kube-apiserver")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50 && processAlive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if err := Up(ctx, o, log); err != nil {
		t.Fatalf("Up after the apiserver died: %v", err)
	}
	if now, ok := l.pid("kube-apiserver"); !ok || now == pid {
		t.Errorf("apiserver not restarted (pid %d -> %d, running %v)", pid, now, ok)
	}
	if err := apiReady(l, "/readyz")(ctx); err != nil {
		t.Errorf("apiserver not ready: %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
