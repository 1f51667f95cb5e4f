package h1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer hands each accepted connection to serve: a peer that breaks
// HTTP in the ways net/http's server never would.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (url string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String(), accepted
}

func readRequest(br *bufio.Reader) (*http.Request, error) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, r.Body)
	return r, err
}

// A body sent after a HEAD response reaches the pooled connection once the
// response was read. Taken for the next request's response, it would put
// every later answer one request behind (one client would get another's).
func TestBytesAfterAResponseRetireTheConnection(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		for {
			r, err := readRequest(br)
			if err != nil {
				return
			}
			if r.Method == http.MethodHead {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 52\r\n\r\n")
				time.Sleep(20 * time.Millisecond)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED")
				continue
			}
			body := "you asked for " + r.URL.Path
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	tr, _ := newTransport(t, time.Minute)
	do(t, tr, request(t, http.MethodHead, url+"/head", nil))
	time.Sleep(100 * time.Millisecond)
	for _, p := range []string{"/a", "/b", "/c"} {
		if _, body := do(t, tr, request(t, http.MethodGet, url+p, nil)); body != "you asked for "+p {
			t.Errorf("GET %s answered %q", p, body)
		}
	}
}

func TestResponseHeaderIsBounded(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: ")
		chunk := strings.Repeat("a", 1<<20)
		for range MaxHeaderBytes>>20 + 2 {
			if _, err := io.WriteString(c, chunk); err != nil {
				return
			}
		}
		io.WriteString(c, "\r\nContent-Length: 0\r\n\r\n")
	})
	tr, _ := newTransport(t, time.Minute)
	_, err := tr.RoundTrip(request(t, http.MethodGet, url, nil))
	if !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("err = %v, want the header limit", err)
	}
}

// After a 101 the connection speaks another protocol: never pooled.
func TestSwitchingProtocolsIsNotReused(t *testing.T) {
	url, accepted := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		r, err := readRequest(br)
		if err != nil {
			return
		}
		if r.URL.Path == "/switch" {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n")
			io.WriteString(c, "\x00\x01binary")
			time.Sleep(time.Second)
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	tr, _ := newTransport(t, time.Minute)
	res, err := tr.RoundTrip(request(t, http.MethodGet, url+"/switch", nil))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, body := do(t, tr, request(t, http.MethodGet, url+"/next", nil)); body != "ok" {
		t.Errorf("after a 101: %q", body)
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("connections = %d, want 2", n)
	}
}

// A body may be closed from another goroutine to end a blocked read.
func TestCloseDuringRead(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
		time.Sleep(time.Second)
	})
	tr, _ := newTransport(t, time.Minute)
	res, err := tr.RoundTrip(request(t, http.MethodGet, url, nil))
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { res.Body.Close() })
	start := time.Now()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Error("the read of a closed, unfinished body succeeded")
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("the read returned after %v", took)
	}
}

// An app that refuses a request before reading its body, and closes: the
// body's write fails, but the answer is there to read.
func TestAnswerBeforeTheBodyIsRead(t *testing.T) {
	url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbig")
	})
	tr, _ := newTransport(t, time.Minute)
	answered := 0
	for range 10 {
		res, err := tr.RoundTrip(request(t, http.MethodPost, url, strings.NewReader(strings.Repeat("x", MaxDirectBody))))
		if err != nil {
			continue // the reset can beat the answer to the socket
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || string(b) != "big" {
			t.Fatalf("got %d %q", res.StatusCode, b)
		}
		answered++
	}
	if answered == 0 {
		t.Error("no request got the 413")
	}
}

// An invalid request fails as net/http fails it, and leaves the pooled
// connections alone.
func TestInvalidRequestKeepsThePool(t *testing.T) {
	s := newServer(t, echo)
	tr, _ := newTransport(t, time.Minute)
	do(t, tr, request(t, http.MethodGet, s.URL, nil))
	bad := request(t, http.MethodGet, s.URL, nil)
	bad.Method = "BAD METHOD"
	if _, err := tr.RoundTrip(bad); err == nil || errors.Is(err, errNoResponse) {
		t.Fatalf("err = %v, want the request's own error", err)
	}
	do(t, tr, request(t, http.MethodGet, s.URL, nil))
	if n := s.opened.Load(); n != 1 {
		t.Errorf("connections opened = %d, want 1", n)
	}
}
