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
	"github.com/coffre/coffre/server/store/storetest"
)

// mustOpen opens a store at path, closed when the test ends.
func mustOpen(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) store.Store {
			s, err := Open(filepath.Join(t.TempDir(), "coffre.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		OpenBackup: func(t *testing.T, backup []byte) store.Store {
			path := filepath.Join(t.TempDir(), "restored.db")
			if err := os.WriteFile(path, backup, 0o600); err != nil {
				t.Fatal(err)
			}
			return mustOpen(t, path)
		},
	})
}

func TestOpenGarbage(t *testing.T) {
	for name, garbage := range map[string][]byte{
		"short": []byte("not a database"),
		"long":  bytes.Repeat([]byte("not a bbolt file, but long enough to have pages\n"), 2000),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "garbage.db")
			if err := os.WriteFile(path, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open of a garbage file succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Open of a garbage file: error %q does not name the file", err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, garbage) {
				t.Error("Open of a garbage file changed the file")
			}
		})
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	first := mustOpen(t, path)
	// flock locks conflict between two opens even in one process.
	second, err := Open(path, Options{Timeout: 50 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a store in use succeeded")
	}
	if !errors.Is(err, ErrLocked) || err.Error() != "store "+path+" is in use by another process" {
		t.Fatalf("a second Open of a store in use: error %q, want ErrLocked naming the file", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	mustOpen(t, path)
}

func TestOpenFutureVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	mustOpen(t, path).Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyVersion, []byte("99")) })
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "version") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a store in format version 99: error %v, want an unsupported version", err)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(store.LogEntry{Position: 1, PrevHash: []byte("prev"), Hash: []byte("hash"), Data: []byte("data"), ReceivedAt: time.Now()}))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, v []byte) {
		e, err := decodeEntry(u64(7), v)
		if err != nil {
			return
		}
		if again := encodeEntry(e); !bytes.Equal(again, v) {
			t.Fatalf("decoding then encoding %x gives %x", v, again)
		}
	})
}

// TestVaultIDs checks that ids bbolt can't hold as bucket names are
// refused by every vault log method, and that nothing is written.
func TestVaultIDs(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "coffre.db"))
	ctx := t.Context()
	if err := s.CreateOrganisation(ctx, store.Organisation{ID: "org", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	entry := []store.LogEntry{{Position: 1, Hash: []byte("hash"), Data: []byte("data")}}
	for _, id := range []string{"", "\x00", "vault\x00", "\x00vault"} {
		if _, err := s.AppendVaultLog(ctx, "org", id, entry, time.Now()); err == nil {
			t.Errorf("AppendVaultLog with vault id %q succeeded", id)
		}
		if _, err := s.ReadVaultLog(ctx, "org", id, 1, 10); err == nil {
			t.Errorf("ReadVaultLog with vault id %q succeeded", id)
		}
		if _, err := s.VaultLogHead(ctx, "org", id); err == nil {
			t.Errorf("VaultLogHead with vault id %q succeeded", id)
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketOrg).Bucket([]byte("org")).Bucket(bucketVaults); b != nil {
			return errors.New("refused appends made the vaults bucket")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
