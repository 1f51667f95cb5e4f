//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// HTTP/2 without TLS (h2c, prior knowledge, as gRPC clients speak it) and a
// WebSocket both reach a revision at zero through the cold path and keep
// their protocol end to end.
func TestProtocolsThroughTheColdPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := createNamespace(t, ctx, "e2e-protocols")
	atZero := map[string]string{"autoscaling.knative.dev/initial-scale": "0"}

	t.Run("h2c", func(t *testing.T) {
		host := applyKsvc(t, ctx, ns, ksvcSpec{name: "grpcish", image: testImage(t), portName: "h2c", annotations: atZero})
		c := newClient(t, ctx, host, 2*time.Minute)
		h2c := &http.Transport{Protocols: new(http.Protocols)}
		h2c.Protocols.SetUnencryptedHTTP2(true)
		c.http.Transport = h2c
		r := c.mustGet(t, ctx, "/", 200)
		if got := r.header.Get("X-Proto"); got != "HTTP/2.0" {
			t.Errorf("the container saw %q, want HTTP/2.0 end to end", got)
		}
		t.Logf("h2c from zero: %s, container saw %s", r.duration.Round(time.Millisecond), r.header.Get("X-Proto"))
	})

	t.Run("WebSocket", func(t *testing.T) {
		host := applyKsvc(t, ctx, ns, ksvcSpec{name: "sockets", image: testImage(t), annotations: atZero})
		start := time.Now()
		ws := dialWebSocket(t, ctx, host, "/ws")
		defer ws.Close()
		for _, msg := range []string{"first", "second message"} {
			if err := websocket.Message.Send(ws, msg); err != nil {
				t.Fatalf("send %q: %v", msg, err)
			}
			var echo string
			if err := websocket.Message.Receive(ws, &echo); err != nil {
				t.Fatalf("receive: %v", err)
			}
			if echo != msg {
				t.Errorf("echo %q, want %q", echo, msg)
			}
		}
		t.Logf("WebSocket from zero: upgraded and echoed in %s", time.Since(start).Round(time.Millisecond))
	})
}

// dialWebSocket opens a WebSocket to host through the gateway.
func dialWebSocket(t *testing.T, ctx context.Context, host, path string) *websocket.Conn {
	t.Helper()
	cfg, err := websocket.NewConfig("ws://"+host+path, "http://"+host)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", gateway(t, ctx))
	if err != nil {
		t.Fatal(err)
	}
	// The handshake waits for the cold start; bound it.
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		conn.Close()
		t.Fatalf("WebSocket handshake with %s through the gateway: %v", host, err)
	}
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	return ws
}
