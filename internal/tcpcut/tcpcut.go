// Package tcpcut is a loopback TCP proxy whose link can be cut, for tests
// of outages of a real server (ClickHouse) that other tests share and that
// must not be stopped: Refuse drops every connection as a stopped server
// would, Hang accepts and never answers as a frozen one would, Up forwards
// again. It must not be used outside tests and scripts.
package tcpcut

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Mode is what the proxy does with connections.
type Mode int

const (
	Up     Mode = iota // forward to the target
	Refuse             // close every connection at once
	Hang               // accept, read and never answer
)

// Proxy listens on a loopback port and forwards to a target.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  Mode
	conns map[net.Conn]struct{}
	done  bool
}

// New starts a proxy to target on a free loopback port.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Through starts a proxy to the server of dsn, a URL such as a ClickHouse
// DSN, closed when the test ends, and returns it with dsn pointed at it.
func Through(t testing.TB, dsn string) (*Proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("tcpcut: DSN %q: %v", dsn, err)
	}
	p, err := New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	return p, u.String()
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set switches the mode; leaving Up closes every open connection, so
// clients meet the outage at once rather than on their next dial.
func (p *Proxy) Set(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	if m != Up {
		for c := range p.conns {
			c.Close()
		}
	}
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.done = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	return p.ln.Close()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		switch mode {
		case Refuse:
			c.Close()
		case Hang:
			if p.track(c) {
				go func() {
					io.Copy(io.Discard, c)
					p.forget(c)
				}()
			}
		default:
			go p.forward(c)
		}
	}
}

func (p *Proxy) forward(c net.Conn) {
	t, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c) {
		t.Close()
		return
	}
	if !p.track(t) {
		p.forget(c)
		return
	}
	p.mu.Lock()
	cut := p.mode != Up // switched while dialling
	p.mu.Unlock()
	if cut {
		p.forget(c)
		p.forget(t)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(t, c); p.forget(t) })
	wg.Go(func() { io.Copy(c, t); p.forget(c) })
	wg.Wait()
}
