package testenv

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Suite is what the integration tests of one package share: an apiserver,
// the namespaces they all use, and a manager running the code under test,
// started before the first test and stopped after the last.
type Suite struct {
	// Scheme of the clients and the manager; nil is client-go's.
	Scheme *runtime.Scheme
	// Namespaces are created before Setup (the system namespace, ...).
	Namespaces []string
	// Manager adjusts the options of the suite's manager (see NewManager).
	Manager func(*ctrl.Options)
	// Setup registers the code under test on mgr; it is also where the
	// package keeps env's client and config for its tests.
	Setup func(ctx context.Context, env *Env, mgr ctrl.Manager) error
	// Ready, if set, returns once what Setup registered serves (it runs
	// after the manager has started, before the tests).
	Ready func(ctx context.Context) error
}

// Main runs a package's tests against the suite, as its TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m, testenv.Suite{...}) }
//
// It exits the process with the tests' status. Logs of the code under
// test go to stderr, errors only unless CSCLR_TEST_VERBOSE is set: the
// reconcilers log every step, which buries a failing test's output.
func Main(m *testing.M, s Suite) {
	level := zapcore.ErrorLevel
	if os.Getenv("CSCLR_TEST_VERBOSE") != "" {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(level)))
	code, err := run(m, s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M, s Suite) (int, error) {
	env, err := start(s.Scheme)
	if err != nil {
		return 0, fmt.Errorf("starting the test apiserver: %w", err)
	}
	defer env.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ns := range s.Namespaces {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return 0, fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	var adjust []func(*ctrl.Options)
	if s.Manager != nil {
		adjust = append(adjust, s.Manager)
	}
	mgr, err := env.NewManager(adjust...)
	if err != nil {
		return 0, fmt.Errorf("creating the manager: %w", err)
	}
	if s.Setup != nil {
		if err := s.Setup(ctx, env, mgr); err != nil {
			return 0, fmt.Errorf("setting up the manager: %w", err)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	// The manager stops before the apiserver (deferred above), so that it
	// does not log the apiserver's disappearance as errors.
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			fmt.Fprintln(os.Stderr, "testenv: manager:", err)
		}
	}()
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			return 0, err
		}
	}
	return m.Run(), nil
}
