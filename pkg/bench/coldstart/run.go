// Package coldstart is `csclr bench cold-start`: on a running cluster, the
// time a first request to a revision at zero takes beyond the pod's own
// start-to-ready time, and how soon the scaler tells KEDA the revision is
// active (see design/benchmarks.md).
package coldstart

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/client-go/rest"

	"csclr.dev/csclr/pkg/bench/benchsvc"
	"csclr.dev/csclr/pkg/bench/measure"
	"csclr.dev/csclr/pkg/bench/podwatch"
)

// Options of one run.
type Options struct {
	Services  int    // K: Services created at zero, each hit once, one after another
	Namespace string // created by the run; must not exist
	Image     string

	SystemNamespace  string // csclr's: the activator Service and pods
	ActivatorService string // its ClusterIP:80 is the gateway; its selector finds the scalers
	ScalerPort       int    // the activators' KEDA external scaler gRPC port
	Gateway          string // host:port overriding the activator Service's ClusterIP:80

	// Bounds: ReadyTimeout for all Services to be Ready at zero;
	// RequestTimeout for one cold request; CleanupTimeout for the
	// namespace's deletion. Settle is the wait between every ScaledObject
	// being Ready and the first request; SignalSettle the wait between
	// opening the scaler streams and sending each request.
	ReadyTimeout, RequestTimeout, CleanupTimeout, Settle, SignalSettle time.Duration
	Keep                                                               bool
	Progress                                                           io.Writer
}

// Sample is one cold request.
type Sample struct {
	Service, Revision string
	Start, End        time.Time // the request sent; its body read
	Status            int
	Err               string
	Pod               podwatch.PodTimes // as the watch saw them; zero if not seen
	Signal            time.Time         // first "active" on a scaler stream; zero if none
	SignalProblem     string
}

// Result is a whole run.
type Result struct {
	Options Options
	Gateway string
	Samples []Sample
	// /proc/loadavg before the first and after the last request
	LoadBefore, LoadAfter string
}

// Run creates the Services at zero, sends each its first request in turn
// and cleans up (unless o.Keep). Failed requests are part of the Result;
// the error is about the run's machinery.
func Run(ctx context.Context, cfg *rest.Config, o Options) (res Result, err error) {
	res.Options = o
	s, err := benchsvc.Start(ctx, cfg, benchsvc.SessionOptions{
		SystemNamespace: o.SystemNamespace, ActivatorService: o.ActivatorService, Gateway: o.Gateway,
		Namespace: o.Namespace, Bench: "cold-start", Keep: o.Keep, CleanupTimeout: o.CleanupTimeout, Progress: o.Progress,
	})
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	cl, pods := s.Clients, s.Pods
	res.Gateway = s.Gateway
	gateway, selector := s.Gateway, s.Selector
	fmt.Fprintf(o.Progress, "creating %d Services at zero in namespace %s\n", o.Services, o.Namespace)
	targets, err := benchsvc.Create(ctx, cl.Ctrl, benchsvc.Spec{Namespace: o.Namespace, Image: o.Image, Bench: "cold-start"}, benchsvc.Names("cold", o.Services), o.ReadyTimeout)
	if err != nil {
		return res, err
	}
	if err := benchsvc.WaitScaledObjects(ctx, cl.Ctrl, o.Namespace, targets, o.ReadyTimeout); err != nil {
		return res, err
	}
	// KEDA opens its stream to the scaler after marking the ScaledObject
	// Ready; Settle leaves it time to.
	fmt.Fprintf(o.Progress, "Services and ScaledObjects Ready; waiting %s before the first request\n", o.Settle)
	select {
	case <-time.After(o.Settle):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	client := &http.Client{Timeout: o.RequestTimeout}
	res.LoadBefore = measure.LoadAverage()
	defer func() { res.LoadAfter = measure.LoadAverage() }()
	for i, t := range targets {
		sig := watchSignal(ctx, cl.Kube, o.SystemNamespace, selector, o.ScalerPort, t, o.Namespace, o.SignalSettle)
		s := Request(ctx, client, gateway, t, pods)
		s.Signal, s.SignalProblem = sig.stop()
		res.Samples = append(res.Samples, s)
		fmt.Fprintf(o.Progress, "%d/%d %s\n", i+1, len(targets), s.line())
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

// Request sends the revision's first request through the gateway and
// then waits (at most 10 s) for the watch to have seen the pod Ready: the
// response may well arrive before the watch event does. The parallel
// cold-start benchmark sends many at once.
func Request(ctx context.Context, c *http.Client, gateway string, t benchsvc.Target, pods *podwatch.Watch) Sample {
	s := Sample{Service: t.Service, Revision: t.Revision}
	if before, _ := pods.Get(t.Revision); !before.Created.IsZero() {
		s.Err = "a pod of the revision existed before the request: not a cold start"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gateway+"/", nil)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	req.Host = t.Host
	s.Start = time.Now()
	resp, err := c.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.Status = resp.StatusCode
	}
	s.End = time.Now()
	if err != nil && s.Err == "" {
		s.Err = err.Error()
	}
	s.Pod = pods.WaitReady(t.Revision, time.Now().Add(10*time.Second))
	return s
}
