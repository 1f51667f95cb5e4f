// Package parallelcold is `csclr bench parallel-cold-start`: N Services at
// zero, each sent its first request at the same moment through the
// gateway, timed against the pods' own start-to-ready in the same run
// (see design/benchmarks.md, "parallel cold starts").
package parallelcold

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"csclr.dev/csclr/pkg/bench/benchsvc"
	"csclr.dev/csclr/pkg/bench/coldstart"
	"csclr.dev/csclr/pkg/bench/measure"
	"csclr.dev/csclr/pkg/bench/podwatch"
)

// benchName labels the namespace and Services.
const benchName = "parallel-cold-start"

// Options of one run.
type Options struct {
	Services  int    // N: Services created at zero, all hit at once
	Namespace string // created by the run; must not exist
	Image     string

	SystemNamespace  string // csclr's: the activator Service
	ActivatorService string // its ClusterIP:80 is the gateway
	Gateway          string // host:port overriding the activator Service's ClusterIP:80

	// Bounds: ReadyTimeout for all Services (and ScaledObjects) to be
	// Ready at zero with no pod; RequestTimeout for one cold request;
	// CleanupTimeout for the namespace's deletion. Settle is the wait
	// between every ScaledObject being Ready and the requests (KEDA opens
	// its scaler streams meanwhile).
	ReadyTimeout, RequestTimeout, CleanupTimeout, Settle time.Duration
	Keep                                                 bool
	Progress                                             io.Writer
}

// Result is a whole run. Samples are cold-start's, without the scaler
// signal (one stream per revision on every activator would be N×2 streams
// competing with the requests).
type Result struct {
	Options Options
	Gateway string
	Samples []coldstart.Sample
	// /proc/loadavg before the requests and after the last answer
	LoadBefore, LoadAfter string
}

// Run creates the Services at zero, sends all their first requests at
// once and cleans up (unless o.Keep). Failed requests are part of the
// Result; the error is about the run's machinery.
func Run(ctx context.Context, cfg *rest.Config, o Options) (res Result, err error) {
	res.Options = o
	s, err := benchsvc.Start(ctx, cfg, benchsvc.SessionOptions{
		SystemNamespace: o.SystemNamespace, ActivatorService: o.ActivatorService, Gateway: o.Gateway,
		Namespace: o.Namespace, Bench: benchName, Keep: o.Keep, CleanupTimeout: o.CleanupTimeout, Progress: o.Progress,
	})
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	cl, pods := s.Clients, s.Pods
	res.Gateway = s.Gateway
	targets, err := atZero(ctx, cl, o)
	if err != nil {
		return res, err
	}
	res.LoadBefore = measure.LoadAverage()
	fmt.Fprintf(o.Progress, "sending %d cold requests at once through %s\n", len(targets), res.Gateway)
	res.Samples = fire(ctx, res.Gateway, targets, pods, o.RequestTimeout)
	res.LoadAfter = measure.LoadAverage()
	return res, ctx.Err()
}

// atZero creates the Services and waits until they, their ScaledObjects
// are Ready and no pod runs, then o.Settle.
func atZero(ctx context.Context, cl benchsvc.Clients, o Options) ([]benchsvc.Target, error) {
	start := time.Now()
	fmt.Fprintf(o.Progress, "creating %d Services at zero in namespace %s\n", o.Services, o.Namespace)
	spec := benchsvc.Spec{Namespace: o.Namespace, Image: o.Image, Bench: benchName}
	targets, err := benchsvc.Create(ctx, cl.Ctrl, spec, benchsvc.Names("pcs", o.Services), o.ReadyTimeout)
	if err != nil {
		return nil, err
	}
	if err := benchsvc.WaitScaledObjects(ctx, cl.Ctrl, o.Namespace, targets, o.ReadyTimeout); err != nil {
		return nil, err
	}
	if err := benchsvc.WaitNoPods(ctx, cl.Kube, o.Namespace, o.ReadyTimeout); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Progress, "%d Services and ScaledObjects Ready at zero after %s; waiting %s\n", len(targets), time.Since(start).Round(time.Second), o.Settle)
	select {
	case <-time.After(o.Settle):
		return targets, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fire sends every target's first request at the same moment: each
// goroutine is parked on one channel, closed when all are ready. A
// connection per request, as N independent clients would open.
func fire(ctx context.Context, gateway string, targets []benchsvc.Target, pods *podwatch.Watch, timeout time.Duration) []coldstart.Sample {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: len(targets), DisableCompression: true}}
	defer c.CloseIdleConnections()
	out := make([]coldstart.Sample, len(targets))
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for i, t := range targets {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			out[i] = coldstart.Request(ctx, c, gateway, t, pods)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}
