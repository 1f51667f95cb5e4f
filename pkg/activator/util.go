package activator

import (
	"context"
	"net/http"
	"sync"
)

func contextWith(r *http.Request, x *exchange) context.Context {
	return context.WithValue(r.Context(), exchangeKey{}, x)
}

// bufferPool reuses ReverseProxy's copy buffers across requests.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(s []byte) { b.p.Put(&s) }
