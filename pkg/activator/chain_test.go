package activator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"csclr.dev/csclr/pkg/gateway"
)

func TestWarmPath(t *testing.T) {
	pod := startPod(t, nil)
	f := newFixture(t, pod, fakeRevisions{}, 10)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	resp, body := f.get(t, "hello.ns.example.com")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "hello hello.ns.example.com /path HTTP/1.1 xff=127.0.0.1") {
		t.Errorf("warm GET = %d %q", resp.StatusCode, body)
	}
	select {
	case rev := <-f.colds:
		t.Errorf("a warm request signalled a cold start for %v", rev)
	default:
	}
}

// TestForwardingHeaders: the activator adds its client to what the hops
// before it (an ingress controller) recorded, as the queue sidecar does.
func TestForwardingHeaders(t *testing.T) {
	pod := startPod(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "xff=%q forwarded=%q proto=%q", r.Header.Values("X-Forwarded-For"), r.Header.Values("Forwarded"), r.Header.Values("X-Forwarded-Proto"))
	}))
	f := newFixture(t, pod, fakeRevisions{}, 10)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	req, _ := http.NewRequest(http.MethodGet, f.front.URL+"/", nil)
	req.Host = "hello.ns.example.com"
	req.Header.Set("X-Forwarded-For", "192.0.2.1")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Forwarded", "for=192.0.2.1;proto=https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `xff=["192.0.2.1, 127.0.0.1"] forwarded=["for=192.0.2.1;proto=https, for=127.0.0.1;proto=http"] proto=["https"]`
	if string(body) != want {
		t.Errorf("the pod saw\n%s\nwant\n%s", body, want)
	}
}

// TestUnknownHost: an unknown host is 404 whatever revision the client's
// headers name, and no revision is woken for it.
func TestUnknownHost(t *testing.T) {
	f := newFixture(t, startPod(t, nil), fakeRevisions{}, 10)
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{name: "no headers"},
		{name: "revision headers naming a routed revision", header: http.Header{gateway.RevisionHeader: {rev1.Name}, gateway.NamespaceHeader: {rev1.Namespace}}},
		{name: "l5d-dst-canonical naming a routed revision", header: http.Header{gateway.LinkerdDstHeader: {"hello-00001.ns.svc.cluster.local:80"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := mustReq(f.front.URL, "nope.example.com")
			maps.Copy(req.Header, tc.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("unknown host: status %d, want 404", resp.StatusCode)
			}
			select {
			case rev := <-f.colds:
				t.Errorf("an unknown host woke %v", rev)
			default:
			}
		})
	}
}

// TestRequestLogLine: one line per request, each field once: slog's time
// (the end), the start, and what the chain learnt about the request.
func TestRequestLogLine(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(start)
	var logs bytes.Buffer
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r.Context())
		x.target = gateway.Target{Revision: rev1}
		x.waited, x.wait = true, 200*time.Millisecond
		clk.SetTime(start.Add(250 * time.Millisecond))
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "hello")
	})
	h := begin(clk, logRequests(slog.New(slog.NewJSONHandler(&logs, nil)), clk, served))
	req := httptest.NewRequest(http.MethodPost, "http://hello.ns.example.com/path", nil)
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), req)

	fields, err := jsonFields(logs.Bytes())
	if err != nil {
		t.Fatalf("the request log %q: %v", logs.String(), err)
	}
	want := map[string]string{
		"level": `"INFO"`, "msg": `"request"`,
		"start": `"2025-03-01T12:00:00Z"`, "method": `"POST"`, "host": `"hello.ns.example.com"`, "path": `"/path"`, "proto": `"HTTP/1.1"`,
		"revision": `"ns/hello-00001"`, "status": "201", "latencySeconds": "0.25", "bytes": "5",
		"traceId": `"0af7651916cd43dd8448eb211c80319c"`, "cold": "true", "waitSeconds": "0.2",
	}
	if times := fields["time"]; len(times) != 1 {
		t.Errorf("time: %d values %v, want slog's own once", len(times), times)
	}
	delete(fields, "time")
	got := map[string]string{}
	for k, vs := range fields {
		if len(vs) != 1 {
			t.Errorf("%s: %d values %v, want one", k, len(vs), vs)
		}
		got[k] = vs[0]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request log fields (-want +got):\n%s", diff)
	}
}

// jsonFields reads a flat JSON object, keeping every value of a key that
// appears more than once (encoding/json keeps only the last).
func jsonFields(line []byte) (map[string][]string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	fields := map[string][]string{}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fields[key.(string)] = append(fields[key.(string)], string(v))
	}
	return fields, nil
}

// TestColdPath: a request for a revision at zero is held, the scaler hears
// of it at once, the new pod is probed as soon as it has an IP, and the
// request goes as soon as the probe succeeds.
func TestColdPath(t *testing.T) {
	pod := startPod(t, nil)
	f := newFixture(t, pod, fakeRevisions{}, 10)

	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, body := f.get(t, "hello.ns.example.com")
		done <- result{resp.StatusCode, body}
	}()
	select {
	case rev := <-f.colds:
		if rev != rev1 {
			t.Errorf("cold signal for %v, want %v", rev, rev1)
		}
		t.Logf("request → cold signal: %v", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("no cold signal")
	}

	// The pod gets an IP but is not ready: probed, still held.
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1"})
	f.bal.PodsChanged(rev1)
	select {
	case r := <-done:
		t.Fatalf("released before the pod was ready: %+v", r)
	case <-time.After(30 * time.Millisecond):
	}
	ready := time.Now()
	pod.ready.Store(true)
	select {
	case r := <-done:
		if r.code != http.StatusOK || !strings.HasPrefix(r.body, "hello hello.ns.example.com /path") {
			t.Errorf("cold request = %d %q", r.code, r.body)
		}
		if took := time.Since(ready); took > 500*time.Millisecond { // ~7 ms unloaded; generous for -race on shared cores
			t.Errorf("released %v after the pod became ready, want a few probe intervals", took)
		} else {
			t.Logf("pod ready → response: %v", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the held request was never released")
	}
}

func TestQueueFull(t *testing.T) {
	f := newFixture(t, startPod(t, nil), fakeRevisions{rev1: {Timeout: time.Second}}, 1)
	go func() { _, _ = http.DefaultClient.Do(mustReq(f.front.URL, "hello.ns.example.com")) }()
	<-f.colds
	resp, _ := f.get(t, "hello.ns.example.com")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("over the queue bound: %d Retry-After %q, want 503 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestColdTimeout(t *testing.T) {
	f := newFixture(t, startPod(t, nil), fakeRevisions{rev1: {Timeout: 50 * time.Millisecond}}, 10)
	if resp, _ := f.get(t, "hello.ns.example.com"); resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("no pod within the timeout: status %d, want 504", resp.StatusCode)
	}
}

func TestContainerConcurrencyRespected(t *testing.T) {
	var inFlight, maxSeen atomic.Int32
	pod := startPod(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
	}))
	f := newFixture(t, pod, fakeRevisions{rev1: {ContainerConcurrency: 1, Timeout: 10 * time.Second}}, 100)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, _ := f.get(t, "hello.ns.example.com"); resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if maxSeen.Load() != 1 {
		t.Errorf("containerConcurrency 1, but the pod saw %d requests at once", maxSeen.Load())
	}
}

func TestH2CPassThrough(t *testing.T) {
	pod := startPod(t, nil)
	f := newFixture(t, pod, fakeRevisions{}, 10)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	resp, err := (&http.Client{Transport: tr}).Do(mustReq(f.front.URL, "hello.ns.example.com"))
	if err != nil {
		t.Fatalf("h2c GET: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || !strings.Contains(string(b), "HTTP/2.0") {
		t.Errorf("h2c end to end: client saw %s, pod saw %q", resp.Proto, b)
	}
}

func TestWebSocketPassThrough(t *testing.T) {
	pod := startPod(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	}))
	f := newFixture(t, pod, fakeRevisions{}, 10)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.1", Ready: true})

	conn, err := net.Dial("tcp", f.front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: hello.ns.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprintf(conn, "ping\n")
	if line, _ := br.ReadString('\n'); line != "echo ping\n" {
		t.Errorf("over the upgraded connection got %q, want the echo", line)
	}
}

func mustReq(base, host string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, base+"/path", nil)
	req.Host = host
	return req
}

// TestRetriesADeadPod: a pod that cannot be dialled (gone before the
// informer said so) costs a retry on another pod, not an error.
func TestRetriesADeadPod(t *testing.T) {
	pod := startPod(t, nil)
	f := newFixture(t, pod, fakeRevisions{}, 10)
	f.pods.set(rev1, PodInfo{IP: "127.0.0.2", Ready: true}, PodInfo{IP: "127.0.0.1", Ready: true}) // nothing listens on 127.0.0.2
	for i := range 4 {
		if resp, body := f.get(t, "hello.ns.example.com"); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		} else if !strings.HasSuffix(body, " xff=127.0.0.1") {
			t.Fatalf("request %d: the pod saw %q; want this hop recorded once, retry or not", i, body)
		}
	}
	s := f.bal.revision(rev1)
	s.thr.mu.Lock()
	defer s.thr.mu.Unlock()
	if len(s.thr.pods) != 1 || s.thr.pods[0].addr != "127.0.0.1:"+strconv.Itoa(pod.port) {
		t.Errorf("after a dial failure the dead pod should be dropped until the next sync; pods: %d", len(s.thr.pods))
	}
}

// blockUntilCancelled is a pod that never answers on its own (within the
// test's life).
func blockUntilCancelled(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
		io.WriteString(w, "too late")
	}
}
