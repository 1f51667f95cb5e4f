package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

func startApp(t *testing.T, a *app) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(a.handler())
	srv.Config.Protocols = protocols()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func fetch(t *testing.T, client *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSleepDelaysFirstByte(t *testing.T) {
	url := startApp(t, &app{message: "slow", log: log.Default()})
	start := time.Now()
	resp, body := fetch(t, http.DefaultClient, url+"/?sleep=150ms")
	if resp.StatusCode != 200 || body != "slow\n" || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("?sleep=150ms: %d %q after %v", resp.StatusCode, body, time.Since(start))
	}
	if resp, _ := fetch(t, http.DefaultClient, url+"/?sleep=soon"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("?sleep=soon: %d, want 400", resp.StatusCode)
	}
}

func TestFailOnOverlap(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	url := startApp(t, &app{failOnOverlap: true, log: log.New(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), "", 0)})

	done := make(chan int)
	go func() { resp, _ := fetch(t, http.DefaultClient, url+"/?sleep=300ms"); done <- resp.StatusCode }()
	time.Sleep(100 * time.Millisecond)
	probe, _ := http.NewRequest(http.MethodGet, url+"/", nil)
	probe.Header.Set("User-Agent", "kube-probe/csclr-queue")
	if resp, err := http.DefaultClient.Do(probe); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readiness probe during a request: %v %v, want 200 (probes are not requests)", resp, err)
	}
	resp, body := fetch(t, http.DefaultClient, url+"/")
	if resp.StatusCode != 500 || body != "overlap\n" {
		t.Fatalf("overlapping request: %d %q, want 500 overlap", resp.StatusCode, body)
	}
	if code := <-done; code != 200 {
		t.Fatalf("the first request: %d, want 200", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "OVERLAP") {
		t.Fatalf("no loud log line: %q", logs.String())
	}
	// Sequential requests are fine.
	if resp, _ := fetch(t, http.DefaultClient, url+"/"); resp.StatusCode != 200 {
		t.Fatalf("request after the overlap: %d, want 200", resp.StatusCode)
	}
}

func TestH2CAndHeaders(t *testing.T) {
	url := startApp(t, &app{revision: "hello-00001", log: log.Default()})
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	defer h2c.CloseIdleConnections()

	resp, body := fetch(t, &http.Client{Transport: h2c}, url+"/headers")
	if resp.ProtoMajor != 2 || resp.Header.Get("X-Proto") != "HTTP/2.0" || resp.Header.Get("X-Revision") != "hello-00001" {
		t.Fatalf("h2c: proto %s, X-Proto %q, X-Revision %q", resp.Proto, resp.Header.Get("X-Proto"), resp.Header.Get("X-Revision"))
	}
	var h http.Header
	if err := json.Unmarshal([]byte(body), &h); err != nil || !strings.HasPrefix(h.Get("Host"), "127.0.0.1:") {
		t.Fatalf("/headers = %q (%v), want JSON with the Host", body, err)
	}
}

func TestWebSocketEcho(t *testing.T) {
	url := startApp(t, &app{log: log.Default()})
	conn, err := websocket.Dial("ws"+strings.TrimPrefix(url, "http")+"/ws", "", "http://elsewhere.example")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if err := websocket.Message.Send(conn, "ping"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := websocket.Message.Receive(conn, &got); err != nil || got != "ping" {
		t.Fatalf("echo = %q, %v", got, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
