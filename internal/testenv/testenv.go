// Package testenv starts a real kube-apiserver + etcd (controller-runtime's
// envtest, on the binaries `csclr dev` builds and caches) with every CRD csclr
// needs installed, for integration tests.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"csclr.dev/csclr/pkg/devcluster"
)

// Env is a running apiserver with csclr's CRDs.
type Env struct {
	Config *rest.Config
	Client client.Client
	env    *envtest.Environment
}

// Start brings up the apiserver for one test (or TestMain via StartMain) and
// stops it when the test ends. scheme may be nil for the default scheme.
func Start(t testing.TB, scheme *runtime.Scheme, opts ...func(*envtest.Environment)) *Env {
	t.Helper()
	e, err := StartMain(scheme, opts...)
	if err != nil {
		t.Fatalf("starting the test apiserver: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	return e
}

// StartMain is Start for use in TestMain; the caller must call Stop.
func StartMain(scheme *runtime.Scheme, opts ...func(*envtest.Environment)) (*Env, error) {
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
		return nil, err
	}
	opt := client.Options{}
	if scheme != nil {
		opt.Scheme = scheme
	}
	c, err := client.New(cfg, opt)
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Client: c, env: env}, nil
}

// Stop stops the apiserver and etcd.
func (e *Env) Stop() error { return e.env.Stop() }
