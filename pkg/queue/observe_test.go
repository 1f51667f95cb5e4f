package queue

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
)

func TestRequestLogLine(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		user := startUser(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "short and stout")
		}))
		cfg := testConfig(user)
		cfg.RequestLog = enabled
		var buf bytes.Buffer
		p := NewParts(cfg, slog.New(slog.NewJSONHandler(&buf, nil)))
		p.Readiness.SetProbed(true)
		h := NewHandler(p)

		req, _ := http.NewRequest(http.MethodPost, "http://hello.ns.example.com/brew?x=1", nil)
		req.RemoteAddr = "10.0.0.1:1234"
		req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		rec := &discardWriter{header: http.Header{}}
		h.ServeHTTP(rec, req)

		if !enabled {
			if buf.Len() != 0 {
				t.Errorf("request log off, but wrote %q", buf.String())
			}
			continue
		}
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("log line %q is not one JSON object: %v", buf.String(), err)
		}
		want := map[string]any{
			"msg": "request", "host": "hello.ns.example.com", "method": "POST", "path": "/brew",
			"revision": "ns/hello-00001", "status": float64(418), "bytes": float64(15),
			"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "proto": "HTTP/1.1",
		}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("log %s = %v, want %v (line %s)", k, line[k], v, buf.String())
			}
		}
		for _, k := range []string{"time", "start", "latencySeconds"} {
			if _, ok := line[k]; !ok {
				t.Errorf("log line lacks %s: %s", k, buf.String())
			}
		}
	}
}

type discardWriter struct {
	header http.Header
	code   int
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
