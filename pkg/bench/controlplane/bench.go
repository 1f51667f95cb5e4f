// Package controlplane is the control-plane scale benchmark: it creates N
// Knative Services at initial-scale 0 (no pod runs, so only the control
// plane is measured), watches them until Ready, and samples the csclr
// controller's CPU and memory meanwhile. It reports figures and never
// judges them (design/benchmarks.md, "control-plane scale").
package controlplane

import (
	"context"
	"csclr.dev/csclr/pkg/bench/benchns"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Options of one run.
type Options struct {
	Services  int
	Parallel  int     // concurrent create calls
	Rate      float64 // creates per second; 0 = as fast as Parallel allows
	Namespace string  // created by the run; must not exist
	Image     string
	// Bounds: creation stops after CreateTimeout; the run stops waiting for
	// Ready ReadyTimeout after the first create; cleanup gives up after
	// CleanupTimeout.
	CreateTimeout, ReadyTimeout, CleanupTimeout time.Duration
	Keep                                        bool // leave the namespace for inspection
	Monitor                                     MonitorConfig
	Progress                                    io.Writer // progress lines; the report is returned
}

type clients struct {
	kube kubernetes.Interface
	ctrl client.Client
	cfg  *rest.Config
}

func newClients(cfg *rest.Config) (clients, error) {
	cfg = rest.CopyConfig(cfg)
	// As controller-runtime does: no client-side throttling, so that the
	// creation rate is set by Parallel/Rate and the server's fairness.
	cfg.QPS = -1
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), servingv1.AddToScheme(scheme)); err != nil {
		return clients{}, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return clients{}, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	return clients{kube: kube, ctrl: c, cfg: cfg}, err
}

// Run runs the benchmark and cleans up after it (unless o.Keep). The
// returned error is about the run's machinery (namespace, watch, cleanup);
// Services that do not become Ready are part of the Result.
func Run(ctx context.Context, cfg *rest.Config, o Options) (res Result, err error) {
	cl, err := newClients(cfg)
	if err != nil {
		return res, err
	}
	if err := benchns.Create(ctx, cl.kube, o.Namespace, "control-plane"); err != nil {
		return res, err
	}
	if !o.Keep {
		defer func() { err = errors.Join(err, benchns.Delete(cl.kube, o.Namespace, o.CleanupTimeout, o.Progress)) }()
	}
	tr := newTracker(serviceNames(o.Services))
	stopWatch, err := watchServices(ctx, cl, o.Namespace, tr)
	if err != nil {
		return res, err
	}
	defer stopWatch()

	mon := startMonitor(ctx, cl.kube, o.Monitor)
	start := time.Now()
	stopProgress := reportProgress(o.Progress, tr, start)
	createCtx, cancelCreate := context.WithTimeout(ctx, o.CreateTimeout)
	createAll(createCtx, cl.ctrl, tr, o)
	cancelCreate()
	tr.creationEnded()
	waitReady(ctx, tr, time.Until(start.Add(o.ReadyTimeout)))
	stopProgress()

	res = Result{Services: o.Services, Namespace: o.Namespace, Image: o.Image, Parallel: o.Parallel, Start: start, End: time.Now()}
	res.Controller = mon.Stop(context.WithoutCancel(ctx))
	var allReady time.Time
	res.Timings, allReady = tr.snapshot()
	res.CreatedAll, res.AllReady = bounds(res.Timings, !allReady.IsZero())
	if !res.AllReady.IsZero() {
		res.End = res.AllReady
	}
	return res, ctx.Err()
}

// bounds returns the last create's return and, if all are Ready, the last
// Ready time.
func bounds(timings []Timing, allReady bool) (createdAll, lastReady time.Time) {
	for _, t := range timings {
		if t.Created.After(createdAll) {
			createdAll = t.Created
		}
		if t.Ready.After(lastReady) {
			lastReady = t.Ready
		}
	}
	if !allReady {
		lastReady = time.Time{}
	}
	return createdAll, lastReady
}

// watchServices starts an informer on the namespace's Services that feeds
// the tracker; one watch, however many Services.
func watchServices(ctx context.Context, cl clients, namespace string, tr *tracker) (stop func(), err error) {
	c, err := cache.New(cl.cfg, cache.Options{Scheme: cl.ctrl.Scheme(), DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &servingv1.Service{})
	if err != nil {
		return nil, err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    tr.observe,
		UpdateFunc: func(_, obj any) { tr.observe(obj) },
	}); err != nil {
		return nil, err
	}
	watchCtx, cancel := context.WithCancel(ctx)
	go func() { _ = c.Start(watchCtx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, time.Minute)
	defer cancelSync()
	if !c.WaitForCacheSync(syncCtx) {
		cancel()
		return nil, fmt.Errorf("the watch on Services in %s did not sync within a minute", namespace)
	}
	return cancel, nil
}

// waitReady waits until every created Service is Ready, ctx ends or the
// timeout passes.
func waitReady(ctx context.Context, tr *tracker, timeout time.Duration) {
	t := time.NewTimer(max(timeout, 0))
	defer t.Stop()
	select {
	case <-tr.allReady:
	case <-t.C:
	case <-ctx.Done():
	}
}

// reportProgress prints a line every 5 s, so a long run shows it is alive.
func reportProgress(w io.Writer, tr *tracker, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				created, ready, total := tr.counts()
				fmt.Fprintf(w, "%6s  created %d/%d  Ready %d\n", time.Since(start).Round(time.Second), created, total, ready)
			}
		}
	}()
	return func() { close(done); <-finished }
}
