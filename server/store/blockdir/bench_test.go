package blockdir

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const mib = 1 << 20

// benchBlockID spreads ids over the fan-out directories, as random ids do.
func benchBlockID(i int) string { return fmt.Sprintf("%016x", uint64(i+1)*0x9e3779b97f4a7c15) }

func randomBlock() []byte {
	data := make([]byte, mib)
	rand.NewChaCha8([32]byte{1}).Read(data)
	return data
}

// mbps is the rate of n MiB in d, in MB/s.
func mbps(n int, d time.Duration) float64 { return float64(n) * mib / 1e6 / d.Seconds() }

// BenchmarkPutBlock1MiB puts new 1 MiB blocks, each durably. Its baseline,
// measured in the same run (BENCH.md), is the physical limit: the same
// bytes written to a new plain file and fsync'd, nothing else. The two
// alternate, so that both meet the same disk (a burst lands in its cache).
// The vault's 256 fan-out directories (ids are hex) are made first: this
// is the steady state, not a vault's first blocks.
func BenchmarkPutBlock1MiB(b *testing.B) {
	s := mustOpen(b)
	data := randomBlock()
	for i := range 256 {
		if err := s.PutBlock(b.Context(), "orgaaaaa", "vaultaaa", fmt.Sprintf("%02xwarmup", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	plain := b.TempDir()
	var baseline time.Duration
	b.SetBytes(mib)
	n := 0
	for b.Loop() {
		if err := s.PutBlock(b.Context(), "orgaaaaa", "vaultaaa", benchBlockID(n), data); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start := time.Now()
		if err := writeDurably(filepath.Join(plain, benchBlockID(n)), data); err != nil {
			b.Fatal(err)
		}
		baseline += time.Since(start)
		b.StartTimer()
		n++
	}
	b.ReportMetric(mbps(n, baseline), "baseline-MB/s")
	b.ReportMetric(mbps(n, b.Elapsed())/mbps(n, baseline), "x-baseline")
}

func writeDurably(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// BenchmarkGetBlock1MiB reads 1 MiB blocks from the page cache (warm: a
// cold read needs dropping the caches, which a test can't). Its baseline is
// os.ReadFile of the same files in the same run.
func BenchmarkGetBlock1MiB(b *testing.B) {
	s := mustOpen(b)
	data := randomBlock()
	const blocks = 64
	for i := range blocks {
		if err := s.PutBlock(b.Context(), "orgaaaaa", "vaultaaa", benchBlockID(i), data); err != nil {
			b.Fatal(err)
		}
	}
	const rounds = 4 * blocks
	start := time.Now()
	for i := range rounds {
		id := benchBlockID(i % blocks)
		if _, err := os.ReadFile(filepath.Join(s.dir, "orgaaaaa", "vaultaaa", id[:2], id)); err != nil {
			b.Fatal(err)
		}
	}
	baseline := mbps(rounds, time.Since(start))

	b.SetBytes(mib)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		got, err := s.GetBlock(b.Context(), "orgaaaaa", "vaultaaa", benchBlockID(n%blocks))
		if err != nil || len(got) != mib {
			b.Fatalf("GetBlock = %d bytes, %v", len(got), err)
		}
		n++
	}
	got := mbps(n, b.Elapsed())
	b.ReportMetric(baseline, "baseline-MB/s")
	b.ReportMetric(got/baseline, "x-baseline")
}
