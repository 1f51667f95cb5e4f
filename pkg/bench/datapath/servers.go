package datapath

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// Roles of the child processes the benchmark re-executes itself as (see
// Serve): the trivial user container, and the bare ReverseProxy baseline.
const (
	RoleBackend = "backend"
	RoleBare    = "bare-proxy"
)

// listenLine is what a child prints once it accepts connections.
const listenLine = "listening on "

// Serve runs a child server of role on a free loopback port until stop
// closes (the parent closes the child's stdin), printing its address to out
// first. target is the backend's URL, for the bare proxy.
func Serve(role, target string, out io.Writer, stop <-chan struct{}) error {
	h, err := handlerFor(role, target)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "%s%s\n", listenLine, ln.Addr())
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

func handlerFor(role, target string) (http.Handler, error) {
	switch role {
	case RoleBackend:
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "hello")
		}), nil
	case RoleBare:
		u, err := url.Parse(target)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("bare proxy: target %q is not a URL", target)
		}
		return bareProxy(u), nil
	}
	return nil, fmt.Errorf("unknown role %q (want %s or %s)", role, RoleBackend, RoleBare)
}

// bareProxy is the baseline hop of benchmarks.md: the standard library's
// single-host ReverseProxy, as a Go service would write it, except that its
// transport keeps as many idle connections as the queue's does (the
// default of 2 per host would make it dial under load and lose on that
// alone).
func bareProxy(target *url.URL) http.Handler {
	p := httputil.NewSingleHostReverseProxy(target)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1000, 1000
	p.Transport = t
	return p
}
