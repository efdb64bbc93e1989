//go:build unix

package wire

import (
	"crypto/tls"
	"io"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/mem"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// BenchmarkBlockCodec decodes a PutBlock request of one 1 MiB block as
// gRPC hands it over (frames of 16 KiB), with gRPC's proto codec and with
// BlockCodec. It reports the process's CPU time per block (garbage
// collection included) besides the wall time, which a loaded machine
// makes meaningless.
func BenchmarkBlockCodec(b *testing.B) {
	data := crypto.RandomBytes(1 << 20)
	digest := crypto.Sum(data)
	out, err := NewBlockCodec().Marshal(&coffrev1.PutBlockRequest{VaultId: "vaultaaa", BlockId: "blockbbb", Data: data, DataDigest: digest[:]})
	if err != nil {
		b.Fatal(err)
	}
	frames := framed(out.Materialize(), 16<<10)
	for name, c := range map[string]interface {
		Unmarshal(mem.BufferSlice, any) error
	}{"proto": NewBlockCodec().CodecV2, "block": NewBlockCodec()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			start := cpuTime(b)
			for b.Loop() {
				if err := c.Unmarshal(frames, &coffrev1.PutBlockRequest{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time the process used so far, user and system.
func cpuTime(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTLSWrites sends 1 MiB through TLS on loopback in the writes
// gRPC's writer makes (its default 32 KiB buffer, or WriteBufferSize),
// with crypto/tls alone or TLS's batched records, and reads it on the
// other end. It reports the process's CPU time per MiB, both ends
// together.
func BenchmarkTLSWrites(b *testing.B) {
	for _, tc := range []struct {
		name  string
		mk    func(*tls.Config) credentials.TransportCredentials
		write int
	}{
		{"crypto-tls/32KiB", credentials.NewTLS, 32 << 10},
		{"crypto-tls/256KiB", credentials.NewTLS, WriteBufferSize},
		{"batched/256KiB", TLS, WriteBufferSize},
	} {
		b.Run(tc.name, func(b *testing.B) {
			client, server, _, _ := tlsPair(b, tc.mk)
			buf := crypto.RandomBytes(tc.write)
			const size = 1 << 20
			done := make(chan error, 1)
			go func() {
				_, err := io.CopyBuffer(io.Discard, io.LimitReader(server, int64(b.N)*size), make([]byte, 32<<10))
				done <- err
			}()
			b.SetBytes(size)
			start := cpuTime(b)
			for range b.N {
				for range size / tc.write {
					if _, err := client.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
