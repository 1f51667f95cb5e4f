package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter records each write it gets.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

func TestLinesGoOutTogetherAfterTheInterval(t *testing.T) {
	out := &countingWriter{}
	w := New(out, 1024, 50*time.Millisecond)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if got := out.snapshot(); len(got) != 0 {
		t.Fatalf("written before the interval: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(out.snapshot()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := out.snapshot(); len(got) != 1 || got[0] != "line 0\nline 1\nline 2\n" {
		t.Fatalf("writes %q, want the three lines in one write", got)
	}
}

func TestAFullBufferGoesOutWholeLinesFirst(t *testing.T) {
	out := &countingWriter{}
	w := New(out, 16, time.Hour)
	w.Write([]byte("0123456789\n")) // 11 bytes
	w.Write([]byte("abcdefghij\n")) // would overflow: the first goes out alone
	w.Write([]byte(strings.Repeat("x", 20) + "\n"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{"0123456789\n", "abcdefghij\n", strings.Repeat("x", 20) + "\n"}
	if got := out.snapshot(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("writes %q, want %q", got, want)
	}
}

func TestCloseFlushesAndLaterLinesGoStraightOut(t *testing.T) {
	var out bytes.Buffer
	w := New(&out, 1024, time.Hour)
	w.Write([]byte("before\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("after\n"))
	if out.String() != "before\nafter\n" {
		t.Fatalf("out %q", out.String())
	}
}

func TestConcurrentLinesStayWhole(t *testing.T) {
	out := &countingWriter{}
	w := New(out, 256, time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				fmt.Fprintf(w, "goroutine %d line %03d\n", g, i)
			}
		}()
	}
	wg.Wait()
	w.Close()
	lines := strings.Split(strings.Join(out.snapshot(), ""), "\n")
	if len(lines) != 8*200+1 {
		t.Fatalf("%d lines, want %d", len(lines)-1, 8*200)
	}
	for _, l := range lines[:len(lines)-1] {
		var g, i int
		if n, err := fmt.Sscanf(l, "goroutine %d line %d", &g, &i); n != 2 || err != nil {
			t.Fatalf("torn line %q", l)
		}
	}
}
