package boltstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// backupOf writes a store holding one organisation with a vault log to a
// new file and returns the path of its backup.
func backupOf(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "coffre.db"))
	ctx := t.Context()
	now := time.Now()
	if err := s.CreateOrganisation(ctx, store.Organisation{ID: "orgaaaaa", Name: "Clinique", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	entry := store.LogEntry{Position: 1, Hash: []byte("hash one"), Data: []byte("entry one"), ReceivedAt: now}
	if _, err := s.AppendVaultLog(ctx, "orgaaaaa", "vaultaaa", []store.LogEntry{entry}, now); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.Backup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "coffre.db.bak")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// changed returns a copy of the bbolt file at path changed by fn.
func changed(t *testing.T, path string, fn func(tx *bolt.Tx) error) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "changed.db")
	if err := os.WriteFile(out, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(out, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestore: a backup replaces the store at a path, which is kept under
// another name, and the restored store holds what the backup did.
func TestRestore(t *testing.T) {
	backup := backupOf(t)
	head, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if !IsBackup(head[:64]) {
		t.Fatal("IsBackup: a backup does not look like one")
	}
	if err := CheckBackup(backup); err != nil {
		t.Fatalf("CheckBackup of a sound backup: %v", err)
	}

	dir := t.TempDir()
	target := filepath.Join(dir, "coffre.db")
	if err := os.WriteFile(target, []byte("this was coffre.db"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(t.Context(), target, backup)
	if err != nil {
		t.Fatal(err)
	}
	if r.Organisations != 1 || !strings.HasPrefix(r.Kept, target+".before-restore-") {
		t.Fatalf("Restore returned %+v", r)
	}
	if kept, err := os.ReadFile(r.Kept); err != nil || string(kept) != "this was coffre.db" {
		t.Fatalf("the replaced store was not kept: %q, %v", kept, err)
	}
	s := mustOpen(t, target)
	head2, err := s.VaultLogHead(t.Context(), "orgaaaaa", "vaultaaa")
	if err != nil || head2.Position != 1 {
		t.Fatalf("restored vault log head %+v, %v", head2, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".restore-*")); len(leftovers) != 0 {
		t.Fatalf("Restore left %v", leftovers)
	}

	// The store is open now: a restore over it is refused.
	if _, err := Restore(t.Context(), target, backup); !errors.Is(err, ErrLocked) {
		t.Fatalf("Restore over a store in use: got %v, want ErrLocked", err)
	}
	if _, err := Restore(t.Context(), target, target); err == nil || !strings.Contains(err.Error(), "is the store itself") {
		t.Fatalf("Restore of the store over itself: got %v", err)
	}
}

// TestCheckBackupRefuses: what is not a sound copy of a store is refused
// before anything is replaced.
func TestCheckBackupRefuses(t *testing.T) {
	backup := backupOf(t)
	good, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ name, path, want string }{
		{"empty", write("empty.db", nil), ""},
		{"not bbolt", write("notes.txt", []byte("shopping list\n")), ""},
		{"cut short", write("cut.db", good[:len(good)/2]), ""},
		{"no version", changed(t, backup, func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketMeta) }), "no format version"},
		{"no organisations", changed(t, backup, func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketOrg) }), "no organisations bucket"},
		{"organisation without data", changed(t, backup, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOrg).DeleteBucket([]byte("orgaaaaa"))
		}), "has no data"},
		{"organisation without invitations", changed(t, backup, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOrg).Bucket([]byte("orgaaaaa")).DeleteBucket(bucketInv)
		}), "lacks its invitations"},
		{"vault without log", changed(t, backup, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketOrg).Bucket([]byte("orgaaaaa")).Bucket(bucketVaults).Bucket([]byte("vaultaaa")).DeleteBucket(bucketLog)
		}), "vault vaultaaa of organisation orgaaaaa lacks its log"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckBackup(c.path)
			if !errors.Is(err, ErrNotBackup) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrNotBackup saying %q", err, c.want)
			}
			target := filepath.Join(t.TempDir(), "coffre.db")
			if _, err := Restore(t.Context(), target, c.path); !errors.Is(err, ErrNotBackup) {
				t.Fatalf("Restore: got %v, want ErrNotBackup", err)
			}
			if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a refused Restore wrote the store")
			}
		})
	}
	if IsBackup([]byte(`{"format":"coffre-pgstore-backup","version":1}`)) {
		t.Error("IsBackup: a PostgreSQL dump looks like a bbolt backup")
	}
}
