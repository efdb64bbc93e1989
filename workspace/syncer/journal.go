// Package syncer keeps a local directory and a vault in sync, both ways
// (SPEC.md §12). Each cycle compares three states of every path — the
// local folder, the vault, and the base both had when they last agreed,
// kept in a journal — and acts only where one side moved. Nothing is ever
// overwritten silently: when both sides changed a file, both versions are
// kept.
package syncer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/coffre/coffre/crypto"
)

// Base is what a path was on both sides when they last agreed.
type Base struct {
	Folder  bool   `json:"folder,omitempty"`
	ID      string `json:"id"`      // manifest id in the vault
	Version uint64 `json:"version"` // manifest version in the vault
	Content string `json:"content,omitempty"`
	Size    int64  `json:"size,omitempty"`
	MtimeNs int64  `json:"mtime_ns,omitempty"` // local modification time then
}

// KeyFunc returns the device's sync key (SPEC.md §12), or an error while
// the keys are forgotten.
type KeyFunc func() (crypto.SecretKey, error)

// FixedKey is a KeyFunc that never locks (tools and tests).
func FixedKey(k crypto.SecretKey) KeyFunc {
	return func() (crypto.SecretKey, error) { return k, nil }
}

// Journal is the sync state of one folder, in a bbolt file: every change
// is one durable transaction, so a crash at any moment leaves a journal
// that describes a state both sides really had. No path or content id is
// ever written in clear (SPEC.md §12): a key is a MAC of the path, a value
// the path and its base encrypted, both under the sync key, which the
// journal asks for at each use.
type Journal struct {
	db  *bolt.DB
	key KeyFunc
}

// bucketBases holds the encrypted bases; bucketClearV1 is where journals
// before format 2 kept paths in clear.
var (
	bucketBases   = []byte("bases-v2")
	bucketClearV1 = []byte("base")
)

// ErrBusy is returned when another process syncs the same folder.
var ErrBusy = errors.New("another coffre sync is running on this folder")

// ErrDamaged is returned when a journal entry does not decrypt.
var ErrDamaged = errors.New("sync journal damaged: stop the sync, remove the journal and sync again")

// OpenJournal opens (or creates) a journal file. A journal of the first
// format, with paths in clear, is removed and started again: with no base,
// the next cycle finds the files equal on both sides, or keeps both.
func OpenJournal(path string, key KeyFunc) (*Journal, error) {
	db, err := openJournalFile(path)
	if err != nil {
		return nil, err
	}
	clear := false
	db.View(func(tx *bolt.Tx) error {
		clear = tx.Bucket(bucketClearV1) != nil
		return nil
	})
	if clear {
		// Deleting the bucket would leave the names in bbolt's free pages.
		db.Close()
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("sync journal %s: %w", path, err)
		}
		if db, err = openJournalFile(path); err != nil {
			return nil, err
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketBases)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sync journal %s: %w", path, err)
	}
	return &Journal{db: db, key: key}, nil
}

func openJournalFile(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, ErrBusy
	}
	if err != nil {
		return nil, fmt.Errorf("sync journal %s: %w", path, err)
	}
	return db, nil
}

// Close closes the journal.
func (j *Journal) Close() error { return j.db.Close() }

// sealedBase is the plaintext of a journal value.
type sealedBase struct {
	Path string `json:"path"`
	Base Base   `json:"base"`
}

func pathKey(key crypto.SecretKey, path string) []byte {
	d := key.MAC("sync-path", []byte(path))
	return d[:]
}

func baseAAD(k []byte) []byte { return append([]byte("coffre/v1/sync/base/"), k...) }

// All returns every base, by path.
func (j *Journal) All() (map[string]Base, error) {
	key, err := j.key()
	if err != nil {
		return nil, err
	}
	out := map[string]Base{}
	err = j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBases).ForEach(func(k, v []byte) error {
			data, err := key.Decrypt(baseAAD(k), v)
			var sb sealedBase
			if err != nil || json.Unmarshal(data, &sb) != nil || !crypto.Equal(pathKey(key, sb.Path), k) {
				return ErrDamaged
			}
			out[sb.Path] = sb.Base
			return nil
		})
	})
	return out, err
}

// Set records the base of a path (nil: the path is gone on both sides).
func (j *Journal) Set(path string, b *Base) error {
	return j.SetMany(map[string]*Base{path: b})
}

// SetMany records several bases in one transaction.
func (j *Journal) SetMany(bases map[string]*Base) error {
	key, err := j.key()
	if err != nil {
		return err
	}
	return j.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketBases)
		for p, b := range bases {
			k := pathKey(key, p)
			if b == nil {
				if err := bk.Delete(k); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(sealedBase{Path: p, Base: *b})
			if err != nil {
				return err
			}
			if err := bk.Put(k, key.Encrypt(baseAAD(k), v)); err != nil {
				return err
			}
		}
		return nil
	})
}
