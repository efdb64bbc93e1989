package multiprocess

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// front is the one address in front of the servers, as a TCP load
// balancer would be: each connection it accepts goes to the first backend
// that takes it, in order (A, then B when A is down), and is relayed byte
// for byte; TLS is end to end, between the client and the server.
type front struct {
	t    testing.TB
	addr string
	lis  net.Listener

	mu       sync.Mutex
	backends []string
	conns    map[net.Conn]struct{}
	served   map[string]int           // connections by backend
	sent     map[string]*atomic.Int64 // bytes relayed to each backend
	wg       sync.WaitGroup
}

func startFront(t testing.TB) *front {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &front{t: t, addr: lis.Addr().String(), lis: lis, conns: map[net.Conn]struct{}{}, served: map[string]int{}, sent: map[string]*atomic.Int64{}}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *front) setBackends(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backends = addrs
	for _, a := range addrs {
		f.sent[a] = &atomic.Int64{}
	}
}

// bytesTo returns how many bytes clients sent to a backend so far.
func (f *front) bytesTo(addr string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[addr].Load()
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n *atomic.Int64
}

func (c counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// connections returns how many connections went to each backend.
func (f *front) connections() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.served {
		out[k] = v
	}
	return out
}

func (f *front) accept() {
	defer f.wg.Done()
	for {
		c, err := f.lis.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *front) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false // closed
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *front) serve(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	if !f.track(c) {
		return
	}
	f.mu.Lock()
	backends := f.backends
	f.mu.Unlock()
	var b net.Conn
	var to string
	for _, addr := range backends {
		var err error
		if b, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			to = addr
			break
		}
	}
	if b == nil {
		return // none up: the client sees the connection close
	}
	defer b.Close()
	if !f.track(b) {
		return
	}
	f.mu.Lock()
	f.served[to]++
	sent := f.sent[to]
	f.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst io.Writer, src net.Conn) {
		io.Copy(dst, src)
		// Either side ending ends the relayed connection, as when a
		// server dies.
		b.Close()
		c.Close()
		done <- struct{}{}
	}
	go pipe(counter{b, sent}, c)
	pipe(c, b)
	<-done
	f.untrack(c, b)
}

func (f *front) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
	}
}

func (f *front) close() {
	f.lis.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
