package boltstore

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

func benchStore(b *testing.B) *Store {
	s := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
	if err := s.CreateOrganisation(b.Context(), store.Organisation{ID: "org", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkAppendLog appends one small entry per synced transaction: the
// ceiling for certificates (BENCH.md: about 3,450 synced puts/s here).
func BenchmarkAppendLog(b *testing.B) {
	s := benchStore(b)
	head := store.Head{}
	for b.Loop() {
		data := []byte(fmt.Sprintf("certificate %d", head.Position+1))
		h := sha256.Sum256(append(head.Hash, data...))
		e := store.LogEntry{Position: head.Position + 1, PrevHash: head.Hash, Hash: h[:], Data: data, ReceivedAt: time.Now()}
		var err error
		if head, err = s.AppendLog(b.Context(), "org", []store.LogEntry{e}, "", e.ReceivedAt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkRecordConnection records from many goroutines at once, where
// db.Batch groups them into shared commits (BENCH.md: 13,000-20,000/s).
func BenchmarkRecordConnection(b *testing.B) {
	s := benchStore(b)
	var devices, clock atomic.Int64
	start := time.Now()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		dev := fmt.Sprintf("device-%d", devices.Add(1))
		for pb.Next() {
			c := store.Connection{DeviceID: dev, Time: start.Add(time.Duration(clock.Add(1))), Address: "192.0.2.1:443"}
			if _, err := s.RecordConnection(b.Context(), "org", c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
