package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// storedHead reads the organisation head position state.db holds.
func storedHead(t *testing.T, s *localState) uint64 {
	t.Helper()
	var pos uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		head, err := s.key.Decrypt(s.aad("head", 0), tx.Bucket(bucketMeta).Get(keyHead))
		if err == nil {
			pos = binary.BigEndian.Uint64(head)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func entries(first uint64, data ...string) []verifiedEntry {
	var out []verifiedEntry
	for i, d := range data {
		out = append(out, verifiedEntry{position: first + uint64(i), data: []byte(d)})
	}
	return out
}

// TestStateSharedByTwoProcesses: two holders of state.db (a running sync
// and a one-shot command) each store what they verified; the head never
// moves back, an entry already stored is not written again, and a
// different entry at a stored position is a fork, not an overwrite.
func TestStateSharedByTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	key := crypto.NewSecretKey()
	a, err := openState(path, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openState(path, key)
	if err != nil {
		t.Fatalf("a second holder of state.db: %v", err)
	}
	head := func(p uint64) certificate.Head {
		return certificate.Head{Position: p, Hash: bytes.Repeat([]byte{byte(p)}, 32)}
	}

	if err := a.save(entries(1, "e1", "e2"), head(2)); err != nil {
		t.Fatal(err)
	}
	// b read the file before a's save: it verified 1..3 itself.
	if err := b.save(entries(1, "e1", "e2", "e3"), head(3)); err != nil {
		t.Fatalf("storing a longer verified log: %v", err)
	}
	if got := storedHead(t, a); got != 3 {
		t.Fatalf("head %d, want 3", got)
	}
	// a, behind, stores what it verified: the head stays at 3.
	if err := a.save(entries(3, "e3"), head(3)); err != nil {
		t.Fatal(err)
	}
	if err := a.save(entries(1, "e1", "e2"), head(2)); err != nil {
		t.Fatal(err)
	}
	if got := storedHead(t, a); got != 3 {
		t.Fatalf("head moved back to %d", got)
	}
	if err := a.save(entries(3, "other"), head(3)); !errors.Is(err, certificate.ErrFork) {
		t.Fatalf("another entry at a stored position: %v, want ErrFork", err)
	}
	if err := a.save(entries(6, "e6"), head(6)); !errors.Is(err, ErrCorruptState) {
		t.Fatalf("a gap after the stored head: %v, want ErrCorruptState", err)
	}
}
