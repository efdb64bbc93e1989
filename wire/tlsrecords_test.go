package wire

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/coffre/coffre/crypto"
)

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// tlsPair connects a client and a server through real TCP on loopback,
// each end's socket counted, the handshake made by the credentials mk
// returns for each side's configuration.
func tlsPair(t testing.TB, mk func(*tls.Config) credentials.TransportCredentials) (client, server net.Conn, clientWrites, serverWrites *atomic.Int64) {
	t.Helper()
	cert, pool := selfSigned(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	clientWrites, serverWrites = new(atomic.Int64), new(atomic.Int64)
	type result struct {
		conn net.Conn
		info credentials.AuthInfo
		err  error
	}
	accepted := make(chan result, 1)
	go func() {
		raw, err := lis.Accept()
		if err != nil {
			accepted <- result{err: err}
			return
		}
		conn, info, err := mk(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}).
			ServerHandshake(countingConn{raw, serverWrites})
		accepted <- result{conn, info, err}
	}()
	raw, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client, info, err := mk(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}).
		ClientHandshake(context.Background(), "localhost", countingConn{raw, clientWrites})
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { client.Close(); r.conn.Close() })
	// The peer's certificate is what the pin and the signed heads check.
	state := info.(credentials.TLSInfo).State
	if len(state.PeerCertificates) == 0 || !bytes.Equal(state.PeerCertificates[0].Raw, cert.Certificate[0]) {
		t.Fatal("the client's AuthInfo does not hold the server's certificate")
	}
	if r.info.(credentials.TLSInfo).State.Version != tls.VersionTLS13 {
		t.Fatal("the server's AuthInfo is not TLS 1.3's")
	}
	return client, r.conn, clientWrites, serverWrites
}

// Every byte written arrives, in order, whatever the sizes of the writes
// (below, at and above a record, and above what batchConn holds), both
// ways at once, and a reader sees one stream.
func TestTLSBatchedRecordsArriveIntact(t *testing.T) {
	client, server, _, _ := tlsPair(t, TLS)
	sizes := []int{1, 100, 16<<10 - 1, 16 << 10, 16<<10 + 1, 100_000, WriteBufferSize, batchMax + 1, 1<<20 + 7}
	var want []byte
	for _, n := range sizes {
		want = append(want, crypto.RandomBytes(n)...)
	}
	send := func(c net.Conn) error {
		rest := want
		for _, n := range sizes {
			if _, err := c.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	}
	errs := make(chan error, 2)
	go func() { errs <- send(client) }()
	go func() { errs <- send(server) }()
	for name, c := range map[string]net.Conn{"server": server, "client": client} {
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("the %s reading: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("the %s read other bytes than were written", name)
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// One Write of gRPC's buffer reaches the socket as one write, not one per
// 16 KiB record as crypto/tls alone makes it.
func TestTLSWritesOncePerBuffer(t *testing.T) {
	const total = 4 << 20
	for _, tc := range []struct {
		name string
		mk   func(*tls.Config) credentials.TransportCredentials
		max  int64
	}{
		{"batched", TLS, total / WriteBufferSize},
		{"crypto/tls alone", credentials.NewTLS, -1},
	} {
		client, server, writes, _ := tlsPair(t, tc.mk)
		done := make(chan error, 1)
		go func() {
			_, err := io.CopyN(io.Discard, server, total)
			done <- err
		}()
		before := writes.Load()
		buf := crypto.RandomBytes(WriteBufferSize)
		for range total / WriteBufferSize {
			if _, err := client.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		n := writes.Load() - before
		t.Logf("%s: %d writes for %d MiB in writes of %d KiB", tc.name, n, total>>20, WriteBufferSize>>10)
		if tc.max >= 0 && n > tc.max {
			t.Errorf("%s: %d writes reached the socket for %d writes of gRPC's buffer", tc.name, n, total/WriteBufferSize)
		}
		if tc.max < 0 && n < total/(16<<10) {
			t.Errorf("%s: %d writes, fewer than one per record: the comparison measures nothing", tc.name, n)
		}
	}
}

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
