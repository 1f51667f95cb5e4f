package h1

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server is an httptest server that counts the connections it accepted and
// closed.
type server struct {
	*httptest.Server
	opened, closed atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// fallback records the requests the transport did not send itself.
type fallback struct {
	rt    http.RoundTripper
	count atomic.Int32
}

func (f *fallback) RoundTrip(r *http.Request) (*http.Response, error) {
	f.count.Add(1)
	return f.rt.RoundTrip(r)
}

func newTransport(t *testing.T, idleTimeout time.Duration) (*Transport, *fallback) {
	t.Helper()
	fb := &fallback{rt: &http.Transport{}}
	tr := New(Options{Dial: (&net.Dialer{}).DialContext, Fallback: fb, MaxIdlePerAddr: 10, IdleTimeout: idleTimeout})
	t.Cleanup(tr.CloseIdleConnections)
	return tr, fb
}

func do(t *testing.T, tr http.RoundTripper, r *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := tr.RoundTrip(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	res.Body.Close()
	return res, string(b)
}

func request(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Host", r.Host)
	io.WriteString(w, r.URL.RequestURI()+" "+string(b))
}

func TestRequestsShareOneConnection(t *testing.T) {
	s := newServer(t, echo)
	tr, fb := newTransport(t, time.Minute)
	for i := range 5 {
		r := request(t, http.MethodGet, s.URL+"/p?q=1", nil)
		r.Host = "hello.default.example.com"
		res, body := do(t, tr, r)
		if res.StatusCode != 200 || body != "/p?q=1 " || res.Header.Get("X-Host") != r.Host {
			t.Fatalf("request %d: %d %q host %q", i, res.StatusCode, body, res.Header.Get("X-Host"))
		}
	}
	res, body := do(t, tr, request(t, http.MethodPost, s.URL+"/post", strings.NewReader("payload")))
	if body != "/post payload" || res.Header.Get("X-Method") != "POST" {
		t.Fatalf("POST: %q", body)
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("connections opened = %d, want 1 (reused)", n)
	}
	if n := fb.count.Load(); n != 0 {
		t.Errorf("fallback took %d requests, want 0", n)
	}
}

func TestFallbackTakesWhatIsNotSimple(t *testing.T) {
	s := newServer(t, echo)
	tr, fb := newTransport(t, time.Minute)
	big := strings.Repeat("x", MaxDirectBody+1)
	chunked := request(t, http.MethodPost, s.URL, io.NopCloser(strings.NewReader("streamed")))
	chunked.ContentLength = -1
	expect := request(t, http.MethodPost, s.URL, strings.NewReader("x"))
	expect.Header.Set("Expect", "100-continue")
	upgrade := request(t, http.MethodGet, s.URL, nil)
	upgrade.Header.Set("Upgrade", "websocket")
	for name, r := range map[string]*http.Request{
		"body over MaxDirectBody": request(t, http.MethodPost, s.URL, strings.NewReader(big)),
		"body of unknown length":  chunked,
		"Expect: 100-continue":    expect,
		"Upgrade":                 upgrade,
	} {
		before := fb.count.Load()
		if Direct(r) {
			t.Errorf("%s: Direct = true, want false", name)
		}
		if res, _ := do(t, tr, r); res.StatusCode != 200 {
			t.Errorf("%s: status %d", name, res.StatusCode)
		}
		if fb.count.Load() != before+1 {
			t.Errorf("%s: not sent by the fallback", name)
		}
	}
}

func TestConnectionNotReusedWhenCutShortOrClosing(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("y", 64<<10))
	})
	tr, _ := newTransport(t, time.Minute)

	res, err := tr.RoundTrip(request(t, http.MethodGet, s.URL+"/big", nil))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Read(make([]byte, 10)) // the reader gives up early
	res.Body.Close()
	do(t, tr, request(t, http.MethodGet, s.URL+"/close", nil))
	do(t, tr, request(t, http.MethodGet, s.URL+"/big", nil))
	if n := s.opened.Load(); n != 3 {
		t.Errorf("connections opened = %d, want 3 (none reusable)", n)
	}
}

func TestStaleIdleConnectionIsReplaced(t *testing.T) {
	s := newServer(t, echo)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			tr, _ := newTransport(t, time.Minute)
			do(t, tr, request(t, method, s.URL, nil))
			// The server drops its idle connections (a restart, its idle
			// timeout) while the transport still pools one.
			s.CloseClientConnections()
			waitFor(t, func() bool { return s.closed.Load() == s.opened.Load() })
			if res, body := do(t, tr, request(t, method, s.URL+"/again", nil)); res.StatusCode != 200 || body != "/again " {
				t.Fatalf("after the server closed the idle connection: %d %q", res.StatusCode, body)
			}
		})
	}
}

func TestCancelUnblocksTheRequest(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr, _ := newTransport(t, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := tr.RoundTrip(request(t, http.MethodGet, s.URL, nil).WithContext(ctx))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("returned after %v", took)
	}
}

func TestInformationalResponsesAreSkipped(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made")
	})
	tr, _ := newTransport(t, time.Minute)
	if res, body := do(t, tr, request(t, http.MethodGet, s.URL, nil)); res.StatusCode != http.StatusCreated || body != "made" {
		t.Fatalf("got %d %q, want 201 made", res.StatusCode, body)
	}
}

func TestHeadAndTrailers(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("Content-Length", "5")
		if r.Method == http.MethodGet {
			w.Header().Del("Content-Length") // chunked, with a trailer
			io.WriteString(w, "hello")
			w.Header().Set("X-Sum", "42")
		}
	})
	tr, _ := newTransport(t, time.Minute)
	res, body := do(t, tr, request(t, http.MethodHead, s.URL, nil))
	if res.ContentLength != 5 || body != "" {
		t.Fatalf("HEAD: length %d body %q", res.ContentLength, body)
	}
	res, body = do(t, tr, request(t, http.MethodGet, s.URL, nil))
	if body != "hello" || res.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("GET: body %q trailer %v", body, res.Trailer)
	}
	if n := s.opened.Load(); n != 1 {
		t.Errorf("connections opened = %d, want 1", n)
	}
}

func TestIdleConnectionsAreClosedAfterTheTimeout(t *testing.T) {
	s := newServer(t, echo)
	tr, _ := newTransport(t, 50*time.Millisecond)
	do(t, tr, request(t, http.MethodGet, s.URL, nil))
	waitFor(t, func() bool { return s.closed.Load() == 1 })
	tr.idle.mu.Lock()
	left := len(tr.idle.byAddr)
	tr.idle.mu.Unlock()
	if left != 0 {
		t.Errorf("%d addresses still pooled after the sweep", left)
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := newServer(t, echo)
	tr, _ := newTransport(t, time.Minute)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				res, err := tr.RoundTrip(request(t, http.MethodGet, s.URL+"/c", nil))
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
					return
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(b) != "/c " {
					t.Errorf("worker %d: body %q", i, b)
				}
			}
		})
	}
	wg.Wait()
	if n := s.opened.Load(); n > 8 {
		t.Errorf("connections opened = %d, want at most 8", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInformationalResponsesReachTheTrace(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
	})
	tr, _ := newTransport(t, time.Minute)
	var got []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		got = append(got, code)
		return nil
	}}
	r := request(t, http.MethodGet, s.URL, nil)
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), trace))
	if res, _ := do(t, tr, r); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if len(got) != 1 || got[0] != http.StatusEarlyHints {
		t.Errorf("the trace saw %v, want [103]", got)
	}
}
