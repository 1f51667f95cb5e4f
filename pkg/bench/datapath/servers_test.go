package datapath

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// serve runs Serve as the child would and returns its URL.
func serve(t *testing.T, role, target string) string {
	t.Helper()
	r, w := io.Pipe()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- Serve(role, target, w, stop) }()
	addr, err := readAddress(context.Background(), r)
	if err != nil {
		t.Fatalf("%s: %v", role, err)
	}
	t.Cleanup(func() {
		close(stop)
		if err := <-done; err != nil {
			t.Errorf("%s: %v", role, err)
		}
	})
	return "http://" + addr + "/"
}

func TestServeBackendAndBareProxy(t *testing.T) {
	backend := serve(t, RoleBackend, "")
	bare := serve(t, RoleBare, backend)
	for _, u := range []string{backend, bare} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello" {
			t.Errorf("%s: %d %q", u, resp.StatusCode, body)
		}
	}
	if err := Serve("nope", "", io.Discard, nil); err == nil {
		t.Error("unknown role: no error")
	}
	if err := Serve(RoleBare, "::", io.Discard, nil); err == nil {
		t.Error("bare proxy without a target URL: no error")
	}
}
