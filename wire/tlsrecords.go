package wire

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"google.golang.org/grpc/credentials"
)

// WriteBufferSize is gRPC's write buffer on both ends (issue 15). One
// flush of gRPC's writer is one Write of the TLS connection: 256 KiB is
// sixteen HTTP/2 frames of 16 KiB (grpc-go's fixed frame size), which
// TLS's connections send in one syscall instead of sixteen.
const WriteBufferSize = 256 << 10

// batchMax bounds what batchConn holds before it writes: a little more
// than gRPC's buffer once sealed into records, so that one flush is one
// write.
const batchMax = WriteBufferSize + 32<<10

// TLS is credentials.NewTLS(cfg) whose connections send the records of
// one Write in one write to the socket: crypto/tls writes each record of
// at most 16 KiB as a write of its own, one syscall per 16 KiB whatever
// gRPC's buffer (a tenth of a 1 GiB put's client CPU). The handshake,
// the configuration and the AuthInfo (the peer's certificates, which the
// pin and the signed heads check) are credentials.NewTLS's, unchanged:
// only the writes of application data after it are grouped.
func TLS(cfg *tls.Config) credentials.TransportCredentials {
	return batchCreds{credentials.NewTLS(cfg)}
}

type batchCreds struct {
	credentials.TransportCredentials
}

func (c batchCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	b := &batchConn{Conn: raw}
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, b)
	if err != nil {
		return nil, nil, err
	}
	return &recordConn{Conn: conn, batch: b}, info, nil
}

func (c batchCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	b := &batchConn{Conn: raw}
	conn, info, err := c.TransportCredentials.ServerHandshake(b)
	if err != nil {
		return nil, nil, err
	}
	return &recordConn{Conn: conn, batch: b}, info, nil
}

func (c batchCreds) Clone() credentials.TransportCredentials {
	return batchCreds{c.TransportCredentials.Clone()}
}

// recordConn is the TLS connection gRPC uses: each Write's records leave
// in one write of the socket.
type recordConn struct {
	net.Conn // the TLS connection
	mu       sync.Mutex
	batch    *batchConn
	writing  atomic.Bool
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing.Store(true)
	defer c.writing.Store(false)
	c.batch.begin()
	n, err := c.Conn.Write(p)
	if ferr := c.batch.end(); err == nil {
		err = ferr
	}
	return n, err
}

// Close during a Write closes the socket first, as crypto/tls does when
// its own Write is under way: its close_notify would otherwise wait, up
// to its five-second deadline, for the held records to be written to a
// peer that may not read.
func (c *recordConn) Close() error {
	if c.writing.Load() {
		c.batch.Conn.Close()
	}
	return c.Conn.Close()
}

// SyscallConn is the socket's, as credentials.NewTLS's connection gives
// it (gRPC reads socket options through it).
func (c *recordConn) SyscallConn() (syscall.RawConn, error) {
	s, ok := c.batch.Conn.(syscall.Conn)
	if !ok {
		return nil, syscall.EINVAL
	}
	return s.SyscallConn()
}

// batchConn is the socket beneath crypto/tls. Between begin and end it
// keeps the records crypto/tls writes and writes them at end (or when
// batchMax is held); otherwise, as during the handshake or for an alert
// sent by a Read, each write goes straight to the socket, in order.
type batchConn struct {
	net.Conn // the socket
	mu       sync.Mutex
	batching bool
	buf      *[]byte
	err      error // of a write made while batching, returned by end
}

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, batchMax); return &b }}

func (b *batchConn) begin() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

func (b *batchConn) end() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	err := b.flush()
	if err == nil {
		err = b.err
	}
	b.err = nil
	return err
}

func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		if err := b.flush(); err != nil {
			return 0, err
		}
		return b.Conn.Write(p)
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.buf == nil {
		b.buf = batchBufs.Get().(*[]byte)
	}
	if len(*b.buf)+len(p) > batchMax {
		if err := b.flush(); err != nil {
			b.err = err
			return 0, err
		}
		b.buf = batchBufs.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// flush writes what is held and gives the buffer back; b.mu is held.
func (b *batchConn) flush() error {
	if b.buf == nil {
		return nil
	}
	buf := b.buf
	b.buf = nil
	_, err := b.Conn.Write(*buf)
	*buf = (*buf)[:0]
	batchBufs.Put(buf)
	return err
}
