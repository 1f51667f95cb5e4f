// Command app is the HTTP server csclr's end-to-end tests deploy. On $PORT
// (default 8080), HTTP/1.1 and h2c:
//
//   - any path answers $MESSAGE (default "hello") and a newline, with the
//     request's protocol in X-Proto and $K_REVISION in X-Revision;
//   - ?sleep=<Go duration> delays the first byte (timeout tests);
//   - /headers answers the request headers as JSON (forwarding headers);
//   - /ws echoes WebSocket messages.
//
// With CRASH=<message> it exits at once with status 1 after logging the
// message: a container that crashes (revision failure tests).
//
// With STARTUP_DELAY=<Go duration> it listens only after that delay: a pod
// that takes long to become ready (cold-start bound tests).
//
// With FAIL_ON_OVERLAP=1 a request that arrives while another is in progress
// gets 500 "overlap" and a loud log line: containerConcurrency 1 is broken.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/websocket"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	a := &app{
		message:       os.Getenv("MESSAGE"),
		revision:      os.Getenv("K_REVISION"),
		failOnOverlap: os.Getenv("FAIL_ON_OVERLAP") == "1",
		log:           log.Default(),
	}
	srv := &http.Server{Addr: ":" + port, Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second, Protocols: protocols()}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if msg := os.Getenv("CRASH"); msg != "" {
		log.Fatalf("CRASH: %s", msg)
	}
	if d, err := time.ParseDuration(os.Getenv("STARTUP_DELAY")); err == nil {
		log.Printf("STARTUP_DELAY: listening in %s", d)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
	}
	log.Printf("listening on :%s (fail on overlap: %v)", port, a.failOnOverlap)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// protocols serves HTTP/1.1 and prior-knowledge h2c on one port.
func protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

func newHandler(message string) http.Handler {
	return (&app{message: message, log: log.Default()}).handler()
}

type app struct {
	message       string
	revision      string
	failOnOverlap bool
	log           *log.Logger
	inFlight      atomic.Int32
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	// A Server without a Handshake accepts any Origin, as a test needs.
	mux.Handle("/ws", websocket.Server{Handler: func(c *websocket.Conn) { _, _ = io.Copy(c, c) }})
	mux.HandleFunc("/headers", a.headers)
	mux.HandleFunc("/", a.answer)
	return a.countOverlap(mux)
}

// countOverlap wraps every request, sleeping ones included, so that two
// requests in the container at once are caught whatever their paths.
// Readiness probes (the kubelet's or the queue sidecar's, both "kube-probe/"
// user agents) bypass the queue's limit by design and are not counted.
func (a *app) countOverlap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			next.ServeHTTP(w, r)
			return
		}
		n := a.inFlight.Add(1)
		defer a.inFlight.Add(-1)
		if a.failOnOverlap && n > 1 {
			a.log.Printf("OVERLAP: %d requests in the container at once (%s %s); containerConcurrency is not enforced", n, r.Method, r.URL)
			http.Error(w, "overlap", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Proto", r.Proto)
		if a.revision != "" {
			w.Header().Set("X-Revision", a.revision)
		}
		next.ServeHTTP(w, r)
	})
}

func (a *app) answer(w http.ResponseWriter, r *http.Request) {
	if s := r.URL.Query().Get("sleep"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			http.Error(w, "sleep="+s+" is not a Go duration such as 1.5s", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	message := a.message
	if message == "" {
		message = "hello"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(message + "\n"))
}

func (a *app) headers(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h)
}
