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
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
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

// Journal is the sync state of one folder, in a bbolt file: every change
// is one durable transaction, so a crash at any moment leaves a journal
// that describes a state both sides really had.
type Journal struct {
	db *bolt.DB
}

var bucketBase = []byte("base")

// ErrBusy is returned when another process syncs the same folder.
var ErrBusy = errors.New("another coffre sync is running on this folder")

// OpenJournal opens (or creates) a journal file.
func OpenJournal(path string) (*Journal, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, ErrBusy
	}
	if err != nil {
		return nil, fmt.Errorf("sync journal %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketBase)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sync journal %s: %w", path, err)
	}
	return &Journal{db: db}, nil
}

// Close closes the journal.
func (j *Journal) Close() error { return j.db.Close() }

// All returns every base, by path.
func (j *Journal) All() (map[string]Base, error) {
	out := map[string]Base{}
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBase).ForEach(func(k, v []byte) error {
			var b Base
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("sync journal: entry %q: %w", k, err)
			}
			out[string(k)] = b
			return nil
		})
	})
	return out, err
}

// Set records the base of a path (nil: the path is gone on both sides).
func (j *Journal) Set(path string, b *Base) error {
	return j.db.Update(func(tx *bolt.Tx) error {
		if b == nil {
			return tx.Bucket(bucketBase).Delete([]byte(path))
		}
		v, err := json.Marshal(b)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketBase).Put([]byte(path), v)
	})
}

// SetMany records several bases in one transaction.
func (j *Journal) SetMany(bases map[string]*Base) error {
	return j.db.Update(func(tx *bolt.Tx) error {
		for p, b := range bases {
			if b == nil {
				if err := tx.Bucket(bucketBase).Delete([]byte(p)); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(b)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketBase).Put([]byte(p), v); err != nil {
				return err
			}
		}
		return nil
	})
}
