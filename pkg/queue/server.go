package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"csclr.dev/csclr/pkg/stats"
)

// Listeners are the sidecar's three ports.
type Listeners struct {
	Serving, Admin, Metrics net.Listener
}

// Listen opens the ports of cfg on all interfaces.
func Listen(cfg Config) (Listeners, error) {
	var ls Listeners
	for _, l := range []struct {
		dst  *net.Listener
		port int
		env  string
	}{{&ls.Serving, cfg.ServingPort, EnvServingPort}, {&ls.Admin, cfg.AdminPort, EnvAdminPort}, {&ls.Metrics, cfg.MetricsPort, EnvMetricsPort}} {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(l.port))
		if err != nil {
			ls.close()
			return Listeners{}, fmt.Errorf("queue: listening on port %d (%s): %w; is another container of the pod using it?", l.port, l.env, err)
		}
		*l.dst = ln
	}
	return ls, nil
}

func (ls Listeners) close() {
	for _, l := range []net.Listener{ls.Serving, ls.Admin, ls.Metrics} {
		if l != nil {
			l.Close()
		}
	}
}

// Serve runs the sidecar until ctx ends (SIGTERM) and the drain is over:
//
//  1. On SIGTERM or GET /drain the pod reports not ready at once but keeps
//     serving for DrainPeriod, while endpoint removal spreads to every caller.
//  2. Then the serving port stops accepting, and the requests already in
//     the pod (queued ones included) get up to the revision timeout to end.
//  3. GET /drain returns when that is done (so a preStop hook on the user
//     container can hold its SIGTERM until then); Serve returns once ctx has
//     ended too.
func Serve(ctx context.Context, p Parts, ls Listeners) error {
	d := &drain{requested: make(chan struct{}), done: make(chan struct{})}
	serving := &http.Server{
		Handler:           NewHandler(p),
		Protocols:         servingProtocols(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second, // longer than callers' pools keep idle connections
	}
	admin := &http.Server{Handler: adminMux(p.Readiness, d), ReadHeaderTimeout: 10 * time.Second}
	metrics := &http.Server{Handler: metricsMux(p.Metrics, p.Report), ReadHeaderTimeout: 10 * time.Second}

	proberCtx, stopProber := context.WithCancel(context.Background())
	defer stopProber()
	prober, err := NewProber(p.Config.ReadinessProbe, p.Config.UserPort, p.Clock)
	if err != nil {
		ls.close()
		return err
	}
	go prober.Run(proberCtx, p.Readiness.SetProbed)

	failed := make(chan error, 3)
	serve := func(name string, s *http.Server, l net.Listener) {
		if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("queue: %s server on %s: %w", name, l.Addr(), err)
		}
	}
	go serve("serving", serving, ls.Serving)
	go serve("admin", admin, ls.Admin)
	go serve("metrics", metrics, ls.Metrics)
	defer func() {
		// Only after the drain: the admin port answers /drain until the end.
		closeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = admin.Shutdown(closeCtx)
		_ = metrics.Shutdown(closeCtx)
	}()

	select {
	case <-ctx.Done():
	case <-d.requested:
	case err := <-failed:
		_ = serving.Close()
		return err
	}
	drainServing(p, serving)
	d.finish()
	stopProber()
	<-ctx.Done()
	return nil
}

// drainServing makes the pod not ready, keeps serving for the drain period,
// then stops accepting and waits (up to the revision timeout) for the
// requests already in the pod.
func drainServing(p Parts, serving *http.Server) {
	p.Readiness.StartDraining()
	serving.SetKeepAlivesEnabled(false) // callers reconnect, and land on other pods
	p.Log.Info("draining: not ready, still serving", "period", p.Config.DrainPeriod.String())
	sleepFor(p.Clock, p.Config.DrainPeriod)

	ctx, cancel := context.WithTimeout(context.Background(), p.Config.Timeout+time.Second)
	defer cancel()
	if err := serving.Shutdown(ctx); err != nil {
		p.Log.Warn("draining: requests still running at the revision timeout", "error", err)
	}
	// Hijacked (WebSocket) connections are not tracked by Shutdown; the
	// load report still counts them while their handler runs.
	waitIdle(ctx, p.Report, p.Clock)
	p.Log.Info("drained", "inFlight", p.Report.InFlight())
}

// servingProtocols serves HTTP/1.1 and prior-knowledge h2c on one port. The
// standard library's unencrypted HTTP/2 replaces the deprecated
// golang.org/x/net/http2/h2c, and unlike it keeps HTTP/2 connections
// visible to Shutdown, so a drain waits for their streams.
func servingProtocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

func adminMux(ready *Readiness, d *drain) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(ReadyPath, ready)
	mux.HandleFunc(DrainPath, func(w http.ResponseWriter, r *http.Request) {
		d.request()
		select {
		case <-d.done:
			_, _ = w.Write([]byte("drained\n"))
		case <-r.Context().Done():
		}
	})
	return mux
}

func metricsMux(m *Metrics, report *stats.Reporter) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.Handle(StatsPath, stats.Handler(report))
	return mux
}

// drain connects /drain requests with the shutdown sequence.
type drain struct {
	once      sync.Once
	requested chan struct{}
	done      chan struct{}
	finished  sync.Once
}

func (d *drain) request() { d.once.Do(func() { close(d.requested) }) }
func (d *drain) finish()  { d.finished.Do(func() { close(d.done) }) }

func sleepFor(clock Clock, d time.Duration) {
	if d <= 0 {
		return
	}
	done := make(chan struct{})
	clock.AfterFunc(d, func() { close(done) })
	<-done
}

func waitIdle(ctx context.Context, report *stats.Reporter, clock Clock) {
	for report.InFlight() > 0 && ctx.Err() == nil {
		sleepFor(clock, 10*time.Millisecond)
	}
}
