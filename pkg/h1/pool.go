package h1

import (
	"net"
	"sync"
	"syscall"
	"time"
)

const defaultMaxIdle = 100

// idlePool keeps the idle connections of every address, most recently
// used last: the warmest connection serves next and the coldest age out.
// One lock for all addresses: it is held for a slice operation, twice a
// request. A timer closes connections idle past the timeout and forgets
// addresses with none left (pods come and go).
type idlePool struct {
	max         int
	idleTimeout time.Duration
	now         func() time.Time

	mu       sync.Mutex
	byAddr   map[string][]*conn
	sweeping bool // a sweep is scheduled
}

func newIdlePool(max int, idleTimeout time.Duration, now func() time.Time) *idlePool {
	if max <= 0 {
		max = defaultMaxIdle
	}
	return &idlePool{max: max, idleTimeout: idleTimeout, now: now, byAddr: map[string][]*conn{}}
}

// get returns an idle connection to addr, or nil. Each is peeked at first
// (alive): one the peer closed is dropped, and so is one with bytes the
// peer sent after the last response (a body on a 304, a wrong
// Content-Length), which would be read as the next request's response.
// A request that still finds its connection closed (the peer closed it
// after the peek) is sent again if it is replayable.
func (p *idlePool) get(addr string) *conn {
	for {
		p.mu.Lock()
		conns := p.byAddr[addr]
		n := len(conns)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := conns[n-1]
		conns[n-1] = nil
		p.byAddr[addr] = conns[:n-1]
		p.mu.Unlock()
		if p.expired(p.now().Sub(c.idleSince)) || !alive(c.Conn) {
			c.Conn.Close()
			continue
		}
		return c
	}
}

func (p *idlePool) put(c *conn) {
	c.idleSince = p.now()
	p.mu.Lock()
	conns := p.byAddr[c.addr]
	if len(conns) >= p.max {
		p.mu.Unlock()
		c.Conn.Close()
		return
	}
	p.byAddr[c.addr] = append(conns, c)
	schedule := p.idleTimeout > 0 && !p.sweeping
	p.sweeping = p.sweeping || schedule
	p.mu.Unlock()
	if schedule {
		time.AfterFunc(p.idleTimeout, p.sweep)
	}
}

func (p *idlePool) expired(idle time.Duration) bool {
	return p.idleTimeout > 0 && idle > p.idleTimeout
}

// sweep closes the connections idle past the timeout, and runs again while
// any are left.
func (p *idlePool) sweep() {
	now := p.now()
	var stale []*conn
	p.mu.Lock()
	for addr, conns := range p.byAddr {
		i := 0 // the oldest are first
		for i < len(conns) && p.expired(now.Sub(conns[i].idleSince)) {
			i++
		}
		stale = append(stale, conns[:i]...)
		if i == len(conns) {
			delete(p.byAddr, addr)
		} else if i > 0 {
			p.byAddr[addr] = append(conns[:0], conns[i:]...)
			clear(conns[len(conns)-i:]) // the closed ones' buffers can go
		}
	}
	again := len(p.byAddr) > 0
	p.sweeping = again
	p.mu.Unlock()
	if again {
		time.AfterFunc(p.idleTimeout, p.sweep)
	}
	for _, c := range stale {
		c.Conn.Close()
	}
}

func (p *idlePool) closeAll() {
	p.mu.Lock()
	all := p.byAddr
	p.byAddr = map[string][]*conn{}
	p.mu.Unlock()
	for _, conns := range all {
		for _, c := range conns {
			c.Conn.Close()
		}
	}
}

// alive peeks at an idle connection without blocking. A peer that closed
// it shows as end of file; anything but "nothing to read" means the
// connection cannot carry a request.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	live := false
	err = raw.Read(func(fd uintptr) bool {
		_, _, errno := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		live = errno == syscall.EAGAIN
		return true
	})
	return err == nil && live
}
