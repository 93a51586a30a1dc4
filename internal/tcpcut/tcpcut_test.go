package tcpcut

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo serves lines back.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestModes(t *testing.T) {
	p, err := New(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("up: %v", err)
	}
	// An open connection is cut too.
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond)
	for _, m := range []Mode{Refuse, Hang} {
		p.Set(m)
		if err := roundTrip(p.Addr()); err == nil {
			t.Errorf("mode %d: a round trip succeeded", m)
		}
	}
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a connection opened while up survived the cut")
	}
	p.Set(Up)
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// Through points a DSN at the proxy and keeps the rest of it.
func TestThrough(t *testing.T) {
	target := echo(t)
	p, dsn := Through(t, "clickhouse://"+target+"/db_1?dial_timeout=2s")
	if want := "clickhouse://" + p.Addr() + "/db_1?dial_timeout=2s"; dsn != want {
		t.Fatalf("Through gave %q, want %q", dsn, want)
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("up: %v", err)
	}
	p.Set(Refuse)
	if err := roundTrip(p.Addr()); err == nil {
		t.Error("a round trip succeeded through a refusing proxy")
	}
}
