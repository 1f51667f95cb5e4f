package queue

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// TestProxyPassesHeadersThrough checks what the user container receives.
func TestProxyPassesHeadersThrough(t *testing.T) {
	seen := make(chan *http.Request, 1)
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r
		w.Header().Set("X-App", "yes")
		fmt.Fprint(w, "hi")
	}))
	url, _ := startQueue(t, testConfig(user))

	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	code, body, h := get(t, url+"/p?q=1", http.Header{"Traceparent": {tp}, "Tracestate": {"a=b"}, "X-Forwarded-For": {"192.0.2.1"}})
	if code != 200 || body != "hi" || h.Get("X-App") != "yes" {
		t.Fatalf("got %d %q X-App=%q, want 200 \"hi\" yes", code, body, h.Get("X-App"))
	}
	r := <-seen
	checks := map[string]string{
		"path":              r.URL.RequestURI(),
		"Traceparent":       r.Header.Get("Traceparent"),
		"Tracestate":        r.Header.Get("Tracestate"),
		"X-Forwarded-For":   r.Header.Get("X-Forwarded-For"),
		"X-Forwarded-Proto": r.Header.Get("X-Forwarded-Proto"),
		"Forwarded":         r.Header.Get("Forwarded"),
	}
	want := map[string]string{
		"path": "/p?q=1", "Traceparent": tp, "Tracestate": "a=b",
		"X-Forwarded-For": "192.0.2.1, 127.0.0.1", "X-Forwarded-Proto": "http", "Forwarded": "for=127.0.0.1;proto=http",
	}
	if fmt.Sprint(checks) != fmt.Sprint(want) {
		t.Fatalf("user container saw %v\nwant %v", checks, want)
	}
	if !strings.HasPrefix(r.Host, "127.0.0.1:") {
		t.Errorf("Host = %q, want the caller's Host kept", r.Host)
	}
}

func TestProxyH2C(t *testing.T) {
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	}))
	url, _ := startQueue(t, testConfig(user))

	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()
	resp, err := (&http.Client{Transport: h2c}).Get(url)
	if err != nil {
		t.Fatalf("h2c GET through the queue: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Proto != "HTTP/2.0" || string(body) != "HTTP/2.0" {
		t.Fatalf("client saw %s, user container saw %q; want HTTP/2.0 on both hops", resp.Proto, body)
	}

	// HTTP/1.1 callers reach the container over HTTP/1.1.
	if _, body, _ := get(t, url, nil); body != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1 caller: user container saw %q, want HTTP/1.1", body)
	}
}

func TestProxyWebSocket(t *testing.T) {
	user := startUser(t, websocket.Handler(func(c *websocket.Conn) { _, _ = io.Copy(c, c) }))
	cfg := testConfig(user)
	cfg.Timeout = 200 * time.Millisecond // the connection outlives the revision timeout
	cfg.ContainerConcurrency = 1
	url, parts := startQueue(t, cfg)

	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/ws"
	conn, err := websocket.Dial(wsURL, "", url)
	if err != nil {
		t.Fatalf("WebSocket dial through the queue: %v", err)
	}
	defer conn.Close()
	for _, msg := range []string{"one", "two"} {
		if err := websocket.Message.Send(conn, msg); err != nil {
			t.Fatalf("send %q: %v", msg, err)
		}
		var got string
		if err := websocket.Message.Receive(conn, &got); err != nil || got != msg {
			t.Fatalf("echo of %q = %q, %v", msg, got, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	// The connection holds its concurrency slot until it closes.
	if n := parts.Breaker.InContainer(); n != 1 {
		t.Errorf("open WebSocket holds %d slots, want 1", n)
	}
	conn.Close()
	waitFor(t, func() bool { return parts.Report.InFlight() == 0 && parts.Breaker.InContainer() == 0 }, "the closed WebSocket to leave the counts")
}

// TestProxyStreams: chunks of a response of unknown length reach the caller
// as the container writes them, not when it finishes.
func TestProxyStreams(t *testing.T) {
	next := make(chan struct{})
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
			<-next
		}
	}))
	url, _ := startQueue(t, testConfig(user))

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := lines.ReadString('\n')
		if err != nil || line != fmt.Sprintf("chunk %d\n", i) {
			t.Fatalf("line %d = %q, %v", i, line, err)
		}
		next <- struct{}{}
	}
}

func TestNetworkProbeAnsweredByQueue(t *testing.T) {
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("probe reached the user container")
	}))
	url, parts := startQueue(t, testConfig(user))
	probe := http.Header{ProbeHeader: {ProbeHeaderValue}}

	if code, body, _ := get(t, url, probe); code != 200 || body != "queue" {
		t.Fatalf("probe when ready: %d %q, want 200 \"queue\"", code, body)
	}
	parts.Readiness.SetProbed(false)
	if code, _, _ := get(t, url, probe); code != http.StatusServiceUnavailable {
		t.Fatalf("probe when the container is not ready: %d, want 503", code)
	}
	parts.Readiness.SetProbed(true)
	parts.Readiness.StartDraining()
	if code, _, _ := get(t, url, probe); code != http.StatusServiceUnavailable {
		t.Fatalf("probe when draining: %d, want 503", code)
	}
	if r := parts.Report.Report(); r.Requests != 0 {
		t.Fatalf("probes were counted as requests: %+v", r)
	}
}

func TestProxyUserContainerDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url, _ := startQueue(t, testConfig(port))
	if code, body, _ := get(t, url, nil); code != http.StatusBadGateway || !strings.Contains(body, "did not answer") {
		t.Fatalf("container down: %d %q, want 502 naming the port", code, body)
	}
}

// TestProxyBodiesTrailersAndHopByHop: request bodies reach the container,
// trailers come back, and hop-by-hop headers stop at the queue both ways.
func TestProxyBodiesTrailersAndHopByHop(t *testing.T) {
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header()["Content-Type"] = nil // no sniffing here either
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("X-Seen", fmt.Sprintf("te=%q x-hop=%q keep-alive=%q", r.Header.Get("Te"), r.Header.Get("X-Hop"), r.Header.Get("Keep-Alive")))
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hop only")
		fmt.Fprintf(w, "got %s", body)
		w.Header().Set("X-Checksum", "42")
	}))
	url, _ := startQueue(t, testConfig(user))

	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("payload"))
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "drop me")
	req.Header.Set("Te", "trailers")
	req.Header.Set("Keep-Alive", "timeout=5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "got payload" {
		t.Errorf("body = %q, want the request body echoed", body)
	}
	if got := resp.Header.Get("X-Seen"); got != `te="trailers" x-hop="" keep-alive=""` {
		t.Errorf("container saw %s; want TE: trailers kept, X-Hop and Keep-Alive removed", got)
	}
	if resp.Header.Get("X-Secret") != "" {
		t.Errorf("hop-by-hop response header X-Secret reached the caller")
	}
	if ct, ok := resp.Header["Content-Type"]; ok {
		t.Errorf("Content-Type %q added to a response that had none", ct)
	}
	if got := resp.Trailer.Get("X-Checksum"); got != "42" {
		t.Errorf("trailer X-Checksum = %q, want 42", got)
	}
}

// TestProxyLargeBodyWithExpectContinue: a 1 MiB upload announced with
// "Expect: 100-continue" goes through whole, both ways.
func TestProxyLargeBodyWithExpectContinue(t *testing.T) {
	user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(w, r.Body)
	}))
	url, _ := startQueue(t, testConfig(user))

	payload := strings.Repeat("0123456789abcdef", 1<<16)
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(payload))
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != payload {
		t.Fatalf("echo of 1 MiB: %d, %d bytes back, equal=%v", resp.StatusCode, len(body), string(body) == payload)
	}
}
