// Package loadramp is `csclr bench load-ramp`: one Service starting at
// zero takes an open-loop ramp of requests through the gateway (the
// activator) while KEDA scales it out; every error and the latency per
// phase are reported, with the rate actually achieved (see
// design/benchmarks.md, "load without errors").
package loadramp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"k8s.io/client-go/rest"

	"csclr.dev/csclr/pkg/bench/benchsvc"
	"csclr.dev/csclr/pkg/bench/measure"
	"csclr.dev/csclr/pkg/names"
)

// benchName labels the namespace and the Service.
const benchName = "load-ramp"

// Scaling is the Service's autoscaling annotations: what KEDA scales on.
type Scaling struct {
	Metric   string  // "rps" or "concurrency"
	Target   float64 // per pod, before Knative's 70 % utilization
	MaxScale int     // 0: unlimited
}

func (s Scaling) annotations() map[string]string {
	return map[string]string{
		"autoscaling.knative.dev/metric":    s.Metric,
		"autoscaling.knative.dev/target":    strconv.FormatFloat(s.Target, 'f', -1, 64),
		"autoscaling.knative.dev/max-scale": strconv.Itoa(s.MaxScale),
	}
}

// Options of one run.
type Options struct {
	Schedule Schedule
	InFlight int // the most requests outstanding at once
	Scaling  Scaling

	Namespace string // created by the run; must not exist
	Image     string

	SystemNamespace  string // csclr's: the activator Service
	ActivatorService string // its ClusterIP:80 is the gateway
	Gateway          string // host:port overriding the activator Service's ClusterIP:80

	// Bounds: ReadyTimeout for the Service (and its ScaledObject) to be
	// Ready at zero; RequestTimeout for one request; CleanupTimeout for
	// the namespace's deletion. Settle is the wait between the
	// ScaledObject being Ready and the load.
	ReadyTimeout, RequestTimeout, CleanupTimeout, Settle time.Duration
	Keep                                                 bool
	Progress                                             io.Writer
}

// Result is a whole run.
type Result struct {
	Options Options
	Gateway string
	Load    Load
	Pods    []PodSample // every second of the load
	// FirstReady is when the watch saw the revision's first pod Ready,
	// from the load's start; negative if never.
	FirstReady time.Duration
	// /proc/loadavg before and after the load
	LoadBefore, LoadAfter string
}

// Run creates the Service at zero, sends the load, and cleans up (unless
// o.Keep). Failed requests are part of the Result; the error is about the
// run's machinery.
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
	t, err := atZero(ctx, cl, o)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(o.Progress, "ramp 0 → %g rps over %s, hold %s: %d requests through %s, at most %d in flight\n",
		o.Schedule.MaxRPS, o.Schedule.Ramp, o.Schedule.Hold, o.Schedule.Total(), res.Gateway, o.InFlight)
	res.LoadBefore = measure.LoadAverage()
	start := time.Now()
	sampleCtx, stopSampling := context.WithCancel(ctx)
	timeline := samplePods(sampleCtx, cl.Kube, o.Namespace, names.Deployment(t.Revision), start, time.Second)
	client := NewClient(o.InFlight, o.RequestTimeout)
	res.Load = Generate(ctx, client, Target{URL: "http://" + res.Gateway + "/", Host: t.Host}, o.Schedule, o.InFlight)
	client.CloseIdleConnections()
	stopSampling()
	res.Pods = <-timeline
	res.LoadAfter = measure.LoadAverage()
	res.FirstReady = -1
	if p, _ := pods.Get(t.Revision); !p.Ready.IsZero() {
		res.FirstReady = p.Ready.Sub(start)
	}
	return res, ctx.Err()
}

// atZero creates the Service and waits until it and its ScaledObject are
// Ready with no pod, then o.Settle.
func atZero(ctx context.Context, cl benchsvc.Clients, o Options) (benchsvc.Target, error) {
	fmt.Fprintf(o.Progress, "creating the Service at zero in namespace %s (metric %s, target %g, max-scale %d)\n",
		o.Namespace, o.Scaling.Metric, o.Scaling.Target, o.Scaling.MaxScale)
	spec := benchsvc.Spec{Namespace: o.Namespace, Image: o.Image, Bench: benchName, Annotations: o.Scaling.annotations()}
	targets, err := benchsvc.Create(ctx, cl.Ctrl, spec, []string{"ramp"}, o.ReadyTimeout)
	if err != nil {
		return benchsvc.Target{}, err
	}
	if err := benchsvc.WaitScaledObjects(ctx, cl.Ctrl, o.Namespace, targets, o.ReadyTimeout); err != nil {
		return benchsvc.Target{}, err
	}
	if err := benchsvc.WaitNoPods(ctx, cl.Kube, o.Namespace, o.ReadyTimeout); err != nil {
		return benchsvc.Target{}, err
	}
	fmt.Fprintf(o.Progress, "Service and ScaledObject Ready at zero; waiting %s\n", o.Settle)
	select {
	case <-time.After(o.Settle):
		return targets[0], nil
	case <-ctx.Done():
		return benchsvc.Target{}, ctx.Err()
	}
}

// Validate rejects annotations the webhook would refuse only after the
// namespace exists, naming the flag to fix.
func (s Scaling) Validate() error {
	switch {
	case s.Metric != "rps" && s.Metric != "concurrency":
		return fmt.Errorf("--metric %q: want rps or concurrency", s.Metric)
	case s.Target < 0.01:
		return fmt.Errorf("--target %g: want at least 0.01", s.Target)
	case s.MaxScale < 0:
		return fmt.Errorf("--max-scale %d: want 0 (unlimited) or more", s.MaxScale)
	}
	return nil
}
