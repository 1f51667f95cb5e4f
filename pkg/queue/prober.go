package queue

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Probe intervals. Knative's "aggressive" mode (periodSeconds 0) probes very
// often until the container first answers, so a new pod takes traffic within
// tens of milliseconds of being able to.
const (
	aggressiveInterval = 25 * time.Millisecond
	aggressivePeriod   = time.Second // after the first success
	defaultProbeWait   = time.Second // per attempt, when timeoutSeconds is 0
	defaultFailures    = 3
)

// Prober runs the user container's readiness probe and reports each verdict.
type Prober struct {
	check    func(ctx context.Context) error
	timeout  time.Duration
	initial  time.Duration
	fast     time.Duration // interval until the first success
	period   time.Duration // interval after it
	failures int           // consecutive failures that make the pod not ready
	success  int           // consecutive successes that make it ready
	clock    Clock
}

// NewProber builds the probe of the serving container on 127.0.0.1. A port
// of 0 or a named port means the user port (Knative only allows probing the
// serving port).
func NewProber(p *corev1.Probe, userPort int, clock Clock) (*Prober, error) {
	port := func(ip intstr.IntOrString) int {
		if ip.Type == intstr.Int && ip.IntVal > 0 {
			return int(ip.IntVal)
		}
		return userPort
	}
	pr := &Prober{
		timeout:  time.Duration(p.TimeoutSeconds) * time.Second,
		initial:  time.Duration(p.InitialDelaySeconds) * time.Second,
		period:   time.Duration(p.PeriodSeconds) * time.Second,
		failures: int(p.FailureThreshold),
		success:  max(1, int(p.SuccessThreshold)),
		clock:    clock,
	}
	if pr.timeout <= 0 {
		pr.timeout = defaultProbeWait
	}
	if pr.failures <= 0 {
		pr.failures = defaultFailures
	}
	pr.fast = pr.period
	if p.PeriodSeconds == 0 {
		pr.fast, pr.period = aggressiveInterval, aggressivePeriod
	}
	switch {
	case p.HTTPGet != nil:
		pr.check = httpCheck(p.HTTPGet, port(p.HTTPGet.Port))
	case p.TCPSocket != nil:
		pr.check = tcpCheck(port(p.TCPSocket.Port))
	case p.GRPC != nil:
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		pr.check = grpcCheck(int(p.GRPC.Port), service)
		if p.GRPC.Port == 0 {
			pr.check = grpcCheck(userPort, service)
		}
	default:
		return nil, fmt.Errorf("readiness probe in %s has no tcpSocket, httpGet or grpc handler", EnvReadinessProbe)
	}
	return pr, nil
}

// Run probes until ctx ends, calling report with the pod's readiness after
// every change of verdict (and once, false, at the start).
func (p *Prober) Run(ctx context.Context, report func(ready bool)) {
	report(false)
	if !p.sleep(ctx, p.initial) {
		return
	}
	ready, everReady := false, false
	streak := 0 // > 0: successes in a row, < 0: failures in a row
	for {
		attempt, cancel := context.WithTimeout(ctx, p.timeout)
		err := p.check(attempt)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil && streak >= 0:
			streak++
		case err == nil:
			streak = 1
		case streak <= 0:
			streak--
		default:
			streak = -1
		}
		if !ready && streak >= p.success {
			ready, everReady = true, true
			report(true)
		} else if ready && -streak >= p.failures {
			ready = false
			report(false)
		}
		interval := p.fast
		if everReady {
			interval = p.period
		}
		if !p.sleep(ctx, interval) {
			return
		}
	}
}

func (p *Prober) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	done := make(chan struct{})
	t := p.clock.AfterFunc(d, func() { close(done) })
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func tcpCheck(port int) func(context.Context) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func httpCheck(get *corev1.HTTPGetAction, port int) func(context.Context) error {
	scheme := "http"
	if get.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: get.Path}
	if u.Path == "" {
		u.Path = "/"
	}
	target := u.String()
	client := &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true, // like the kubelet: a fresh connection proves the listener
			// Like the kubelet, an HTTPS probe does not verify the certificate.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", ProbeUserAgent)
		for _, h := range get.HTTPHeaders {
			if http.CanonicalHeaderKey(h.Name) == "Host" {
				req.Host = h.Value
				continue
			}
			req.Header.Add(h.Name, h.Value)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("readiness probe GET %s: status %d", target, resp.StatusCode)
		}
		return nil
	}
}

func grpcCheck(port int, service string) func(context.Context) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return func(ctx context.Context) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return err
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("readiness probe gRPC health %s: %s", addr, resp.GetStatus())
		}
		return nil
	}
}
