// Package testenv starts a real kube-apiserver + etcd (controller-runtime's
// envtest, on the binaries `csclr dev` builds and caches) with every CRD csclr
// needs installed, for integration tests: Main for a package whose tests
// share one apiserver and manager, Start for a test that wants its own.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"csclr.dev/csclr/pkg/devcluster"
)

// Env is a running apiserver with csclr's CRDs.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme // nil: client-go's default scheme
	env    *envtest.Environment
	crdDir string
}

// NewScheme is a scheme with every adder applied; it panics on an error,
// which only a broken adder can cause (tests build schemes at start-up).
func NewScheme(adders ...func(*runtime.Scheme) error) *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range adders {
		if err := add(s); err != nil {
			panic("testenv: building the scheme: " + err.Error())
		}
	}
	return s
}

// Start brings up an apiserver for one test and stops it when the test
// ends. scheme may be nil for the default scheme.
func Start(t testing.TB, scheme *runtime.Scheme, opts ...func(*envtest.Environment)) *Env {
	t.Helper()
	e, err := start(scheme, opts...)
	if err != nil {
		t.Fatalf("starting the test apiserver: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	return e
}

func start(scheme *runtime.Scheme, opts ...func(*envtest.Environment)) (*Env, error) {
	// The first run builds etcd and kube-apiserver, which takes minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	assets, err := devcluster.EnvtestAssets(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "csclr-testenv-")
	if err != nil {
		return nil, err
	}
	crds, err := devcluster.WriteCRDs(ctx, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: []string{filepath.Dir(crds)}, ErrorIfPathMissing: true},
		Scheme:                scheme,
	}
	for _, o := range opts {
		o(env)
	}
	cfg, err := env.Start()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, env: env, crdDir: dir}, nil
}

// NewManager is a manager on the apiserver with the env's scheme, without
// metrics or health probe listeners (tests run side by side). Controller
// names are not checked: a test process builds several managers (a second
// replica, the full controller beside the suite's) with the same names.
func (e *Env) NewManager(adjust ...func(*ctrl.Options)) (ctrl.Manager, error) {
	opts := ctrl.Options{
		Scheme:                 e.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	}
	for _, f := range adjust {
		f(&opts)
	}
	return ctrl.NewManager(e.Config, opts)
}

// Stop stops the apiserver and etcd.
func (e *Env) Stop() error {
	err := e.env.Stop()
	_ = os.RemoveAll(e.crdDir)
	return err
}

// RunManager starts mgr until the end of the test; the cleanup stops it and
// waits, so that it is gone before the apiserver stops.
func RunManager(t testing.TB, mgr ctrl.Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-stopped })
}
