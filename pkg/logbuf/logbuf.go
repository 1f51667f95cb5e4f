// Package logbuf batches log lines on their way out (to stdout): the data
// path writes one JSON line per request, and one write system call per line
// cost the queue sidecar about a sixth of its throughput. Lines wait at most
// a flush interval, and the buffer is bounded.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// Writer buffers whole writes (each a log line) and writes them out in one
// call when the buffer would overflow, when the oldest line has waited the
// interval, or on Flush and Close. It is safe for concurrent use. A write
// larger than the buffer goes out at once, after what is buffered.
type Writer struct {
	out   io.Writer
	size  int
	every time.Duration

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // armed while buf holds lines
	closed bool
	err    error // the last error writing out, reported by the next call
}

// New returns a Writer to out with a buffer of size bytes that holds a line
// at most every.
func New(out io.Writer, size int, every time.Duration) *Writer {
	return &Writer{out: out, size: size, every: every, buf: make([]byte, 0, size)}
}

// Write buffers p. It never splits p: a log handler's line stays one line.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.size {
		w.flushLocked()
	}
	if len(p) > w.size {
		_, err := w.out.Write(p)
		return len(p), err
	}
	if len(w.buf) == 0 {
		if w.timer == nil {
			w.timer = time.AfterFunc(w.every, w.flushOnTimer)
		} else {
			w.timer.Reset(w.every)
		}
	}
	w.buf = append(w.buf, p...)
	err := w.err
	w.err = nil
	return len(p), err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	err := w.err
	w.err = nil
	return err
}

// Close flushes and makes later writes go straight out (a line logged
// while the process exits is not lost).
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.mu.Unlock()
	return w.Flush()
}

func (w *Writer) flushOnTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

func (w *Writer) flushLocked() {
	if len(w.buf) == 0 {
		return
	}
	if _, err := w.out.Write(w.buf); err != nil {
		w.err = err
	}
	w.buf = w.buf[:0]
	if w.timer != nil {
		w.timer.Stop()
	}
}
