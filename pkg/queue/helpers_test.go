package queue

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// startUser starts a fake user container and returns its port.
func startUser(t *testing.T, h http.Handler) int {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = servingProtocols()
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}

func testConfig(userPort int) Config {
	return Config{
		ServingPort: ServingPort, AdminPort: AdminPort, MetricsPort: MetricsPort,
		UserPort: userPort, Timeout: 10 * time.Second, QueueDepth: MinQueueDepth,
		DrainPeriod: 0, Namespace: "ns", Revision: "hello-00001", Pod: "hello-00001-deployment-abc",
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startQueue serves the handler chain for cfg and returns its URL and parts.
func startQueue(t *testing.T, cfg Config) (string, Parts) {
	t.Helper()
	p := NewParts(cfg, discardLog())
	p.Readiness.SetProbed(true)
	srv := httptest.NewUnstartedServer(NewHandler(p))
	srv.Config.Protocols = servingProtocols()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, p
}

func get(t *testing.T, url string, header http.Header) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}
