package boltstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// TestSmallBlocksReserve checks that a batch's reservation and blocks are
// one transaction: over the quota, nothing is stored and nothing counted;
// within it, both; a batch refused for a block already there with other
// bytes counts nothing either.
func TestSmallBlocksReserve(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "coffre.db"))
	ctx := t.Context()
	if err := s.CreateOrganisation(ctx, store.Organisation{ID: "orgaaaaa", CreatedAt: time.Now(), Limits: store.Limits{StorageBytes: 10_000}}); err != nil {
		t.Fatal(err)
	}
	used := func() int64 {
		t.Helper()
		o, err := s.Organisation(ctx, "orgaaaaa")
		if err != nil {
			t.Fatal(err)
		}
		return o.UsedBytes
	}
	batch := []store.BlockData{{ID: "block001", Data: bytes.Repeat([]byte{1}, 4000)}, {ID: "block002", Data: bytes.Repeat([]byte{2}, 4000)}}
	if err := s.PutSmallBlocks(ctx, "orgaaaaa", "vaultaaa", batch, 8000); err != nil {
		t.Fatal(err)
	}
	if u := used(); u != 8000 {
		t.Fatalf("usage %d after a batch of 8,000 bytes, want 8,000", u)
	}
	over := []store.BlockData{{ID: "block003", Data: bytes.Repeat([]byte{3}, 4000)}}
	err := s.PutSmallBlocks(ctx, "orgaaaaa", "vaultaaa", over, 4000)
	if !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("a batch over the quota: %v, want %v", err, store.ErrQuotaExceeded)
	}
	if _, err := s.SmallBlock(ctx, "orgaaaaa", "vaultaaa", "block003"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a block of a batch over the quota: %v, want %v", err, store.ErrNotFound)
	}
	other := []store.BlockData{{ID: "block004", Data: []byte("new")}, {ID: "block001", Data: []byte("other bytes")}}
	if err := s.PutSmallBlocks(ctx, "orgaaaaa", "vaultaaa", other, 14); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a batch with a block there with other bytes: %v, want %v", err, store.ErrExists)
	}
	if _, err := s.SmallBlock(ctx, "orgaaaaa", "vaultaaa", "block004"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the other block of a refused batch: %v, want %v (all or none)", err, store.ErrNotFound)
	}
	if u := used(); u != 8000 {
		t.Fatalf("usage %d after two refused batches, want 8,000 still", u)
	}
}

// TestSmallBlocksFormat checks that a file gets format version 2 with its
// first small block (so that an older server, which reads only 1, refuses
// it), that it opens again, and that its small blocks are in its backup,
// which restores.
func TestSmallBlocksFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "coffre.db")
	s := mustOpen(t, path)
	ctx := t.Context()
	version := func() string {
		t.Helper()
		var v string
		if err := s.view(ctx, func(tx *bolt.Tx) error { v = string(tx.Bucket(bucketMeta).Get(keyVersion)); return nil }); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := version(); v != formatVersion {
		t.Fatalf("a new store has format version %q, want %q", v, formatVersion)
	}
	data := []byte("a small block")
	if err := s.PutSmallBlocks(ctx, "orgaaaaa", "vaultaaa", []store.BlockData{{ID: "block001", Data: data}}, 0); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != formatSmallBlocks {
		t.Fatalf("a store with a small block has format version %q, want %q", v, formatSmallBlocks)
	}
	var b bytes.Buffer
	if err := s.Backup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "coffre.db.bak")
	if err := os.WriteFile(backup, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "coffre.db")
	if _, err := Restore(ctx, restored, backup); err != nil {
		t.Fatalf("restoring a backup of format version %q: %v", formatSmallBlocks, err)
	}
	for _, p := range []string{path, backup, restored} {
		r := mustOpen(t, p)
		got, err := r.SmallBlock(ctx, "orgaaaaa", "vaultaaa", "block001")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s opened again: small block %q, %v; want %q", filepath.Base(p), got, err, data)
		}
		r.Close()
	}
}
