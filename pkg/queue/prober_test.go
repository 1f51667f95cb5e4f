package queue

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// instantClock fires every timer at once and records the waits asked for.
type instantClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *instantClock) Now() time.Time { return time.Unix(0, 0) }

func (c *instantClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	f()
	return time.NewTimer(time.Hour)
}

func TestProberSchedule(t *testing.T) {
	tests := []struct {
		name        string
		probe       *corev1.Probe
		results     []bool
		wantReports []bool
		wantWaits   []time.Duration
	}{{
		name:        "aggressive: fast until the first success, then every second",
		probe:       &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}},
		results:     []bool{false, false, true, true, false, false, false, true},
		wantReports: []bool{false, true, false, true},
		wantWaits: []time.Duration{25 * time.Millisecond, 25 * time.Millisecond,
			time.Second, time.Second, time.Second, time.Second, time.Second, time.Second},
	}, {
		name: "periodic with thresholds and an initial delay",
		probe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}},
			InitialDelaySeconds: 2, PeriodSeconds: 5, SuccessThreshold: 2, FailureThreshold: 1},
		results:     []bool{true, false, true, true, false},
		wantReports: []bool{false, true, false},
		wantWaits: []time.Duration{2 * time.Second,
			5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &instantClock{}
			p, err := NewProber(tt.probe, 8080, clock)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			results := tt.results
			p.check = func(context.Context) error {
				if len(results) == 0 {
					cancel()
					return errors.New("script over")
				}
				ok := results[0]
				results = results[1:]
				if ok {
					return nil
				}
				return errors.New("refused")
			}
			var reports []bool
			p.Run(ctx, func(ready bool) { reports = append(reports, ready) })
			if !reflect.DeepEqual(reports, tt.wantReports) {
				t.Errorf("reports = %v, want %v", reports, tt.wantReports)
			}
			if !reflect.DeepEqual(clock.waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", clock.waits, tt.wantWaits)
			}
		})
	}
}

func TestProbeChecks(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	var gotHost, gotHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gotHost, gotHeader = r.Host, r.Header.Get("X-Probe")
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	ctx := context.Background()
	httpProbe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Path: "/healthz", HTTPHeaders: []corev1.HTTPHeader{{Name: "Host", Value: "app.local"}, {Name: "X-Probe", Value: "1"}},
	}}}
	p, err := NewProber(httpProbe, port, RealClock{}) // port 0 in the probe: the user port
	if err != nil {
		t.Fatal(err)
	}
	if err := p.check(ctx); err == nil {
		t.Fatalf("HTTP probe of a 503 succeeded")
	}
	mu.Lock()
	status = http.StatusFound // the kubelet counts 3xx as ready
	mu.Unlock()
	if err := p.check(ctx); err != nil {
		t.Fatalf("HTTP probe of a 302: %v", err)
	}
	if gotHost != "app.local" || gotHeader != "1" {
		t.Fatalf("probe sent Host %q X-Probe %q, want app.local and 1", gotHost, gotHeader)
	}

	for _, tc := range []struct {
		port   int
		wantOK bool
	}{{port, true}, {closedPort, false}} {
		tcp := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(tc.port))}}}
		p, _ := NewProber(tcp, 1, RealClock{})
		if err := p.check(ctx); (err == nil) != tc.wantOK {
			t.Errorf("TCP probe of port %d: %v, want ok=%v", tc.port, err, tc.wantOK)
		}
	}
}

// TestAggressiveProbeReadiness: a container that starts listening late is
// seen ready within a few probe intervals of opening its port.
func TestAggressiveProbeReadiness(t *testing.T) {
	reserve, _ := net.Listen("tcp", "127.0.0.1:0")
	port := reserve.Addr().(*net.TCPAddr).Port
	reserve.Close()

	p, err := NewProber(&corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}, port, RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	ready := &Readiness{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx, ready.SetProbed)

	time.Sleep(100 * time.Millisecond)
	if ready.Ready() {
		t.Fatal("ready before the container listens")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Skipf("port %d taken meanwhile: %v", port, err)
	}
	defer ln.Close()
	opened := time.Now()
	waitFor(t, ready.Ready, "readiness after the port opened")
	if d := time.Since(opened); d > time.Second {
		t.Fatalf("ready %v after the port opened, want within a few 25ms intervals", d)
	}
}
