package forward

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"csclr.dev/csclr/pkg/h1"
)

// startProxy serves a Proxy to backend over rt, and returns its URL.
func startProxy(t *testing.T, backend *httptest.Server, rt http.RoundTripper) string {
	t.Helper()
	target := strings.TrimPrefix(backend.URL, "http://")
	front := httptest.NewServer(New(Options{Target: func(*http.Request) string { return target }, Transport: rt}))
	t.Cleanup(front.Close)
	return front.URL
}

func transports() map[string]http.RoundTripper {
	std := &http.Transport{}
	dialer := &net.Dialer{Timeout: time.Second}
	return map[string]http.RoundTripper{
		"net/http": std,
		"h1":       h1.New(h1.Options{Dial: dialer.DialContext, Fallback: std}),
	}
}

// TestEarlyHintsRelayed: a 103 the backend sends before its answer reaches
// the caller before the answer, with its own headers only.
func TestEarlyHintsRelayed(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("X-Final", "yes")
		io.WriteString(w, "page")
	}))
	t.Cleanup(backend.Close)
	for name, rt := range transports() {
		t.Run(name, func(t *testing.T) {
			url := startProxy(t, backend, rt)
			var mu sync.Mutex
			var hints []string
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				mu.Lock()
				defer mu.Unlock()
				hints = append(hints, http.StatusText(code)+" "+h.Get("Link"))
				return nil
			}}
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			if len(hints) != 1 || hints[0] != "Early Hints </style.css>; rel=preload" {
				t.Errorf("informational responses = %q, want one 103 with its Link", hints)
			}
			if resp.StatusCode != 200 || string(body) != "page" || resp.Header.Get("X-Final") != "yes" || resp.Header.Get("Link") != "" {
				t.Errorf("final = %d %q X-Final=%q Link=%q; want 200 \"page\" yes and no Link", resp.StatusCode, body, resp.Header.Get("X-Final"), resp.Header.Get("Link"))
			}
		})
	}
}

// TestBackendDown: the Error option answers, by default with a 502.
func TestBackendDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	front := httptest.NewServer(New(Options{Target: func(*http.Request) string { return addr }, Transport: &http.Transport{}}))
	t.Cleanup(front.Close)
	resp, err := http.Get(front.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

func TestByProtocol(t *testing.T) {
	one, two := &recordingRT{name: "h1"}, &recordingRT{name: "h2c"}
	for _, tc := range []struct {
		major int
		h2c   http.RoundTripper
		want  string
	}{{1, two, "h1"}, {2, two, "h2c"}, {2, nil, "h1"}} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.ProtoMajor = tc.major
		res, _ := ByProtocol(one, tc.h2c).RoundTrip(req)
		if got := res.Status; got != tc.want {
			t.Errorf("HTTP/%d, h2c %v: went to %s, want %s", tc.major, tc.h2c != nil, got, tc.want)
		}
	}
}

type recordingRT struct{ name string }

func (r *recordingRT) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{Status: r.name}, nil
}
