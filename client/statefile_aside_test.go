package client

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestUpdateAfterAsideWaitsAndFailsWithIt: a write that follows one
// running aside (a rotation's entries, stored while its checkpoint is
// prepared) is stored after it, and not at all if it failed: the
// checkpoint's vault entry is never stored without the organisation
// entries it claims.
func TestUpdateAfterAsideWaitsAndFailsWithIt(t *testing.T) {
	f := shareStateFile(filepath.Join(t.TempDir(), "state.db"))
	t.Cleanup(func() { f.close() })

	release := make(chan struct{})
	wait := f.UpdateAside(func(tx *bolt.Tx) error {
		<-release
		b, err := tx.CreateBucketIfNotExists(testBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte("aside"), []byte{1})
	})
	after := make(chan error, 1)
	go func() { after <- putCounter(f, "after", 1) }()
	close(release)
	if err := <-after; err != nil {
		t.Fatal(err)
	}
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if _, ok := counter(t, f, "after"); !ok {
		t.Fatal("the write after the aside one is not stored")
	}

	failed := errors.New("disk full")
	wait = f.UpdateAside(func(*bolt.Tx) error { return failed })
	if err := putCounter(f, "lost", 1); !errors.Is(err, failed) {
		t.Fatalf("a write after a failed aside one gave %v, want its error", err)
	}
	if _, ok := counter(t, f, "lost"); ok {
		t.Fatal("a write after a failed aside one was stored")
	}
	if err := wait(); !errors.Is(err, failed) {
		t.Fatalf("the aside write gave %v, want %v", err, failed)
	}
	if err := putCounter(f, "later", 1); err != nil {
		t.Fatalf("once the failed write was waited for, writes go on: %v", err)
	}
}
