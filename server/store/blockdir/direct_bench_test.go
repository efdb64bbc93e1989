//go:build linux

package blockdir

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user + system CPU so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPutBlockConcurrent puts sealed-size blocks (1 MiB + 300 bytes)
// eight at a time, as a put's eight blocks in flight reach the server,
// from memory at a page boundary (written around the page cache) and one
// byte past it (through the page cache): the wall time and the CPU per MiB
// of each.
func BenchmarkPutBlockConcurrent(b *testing.B) {
	for _, misaligned := range []bool{false, true} {
		b.Run(fmt.Sprintf("misaligned=%v", misaligned), func(b *testing.B) {
			s := mustOpen(b)
			const writers = 8
			blocks := make([][]byte, writers)
			for i := range blocks {
				blocks[i] = alignedBytes(mib+300, misaligned)
			}
			next := make(chan int)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := range next {
						if err := s.PutBlock(b.Context(), "orgaaaaa", "vaultaaa", benchBlockID(n), blocks[w]); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			b.SetBytes(mib)
			cpu := cpuTime(b)
			n := 0
			for b.Loop() {
				next <- n
				n++
			}
			close(next)
			wg.Wait()
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(n), "cpu-ms/MiB")
		})
	}
}
