package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/coffre/coffre/certificate"
)

// stateLockWait bounds how long a transaction waits for another process's
// transaction on state.db: transactions last milliseconds, so a longer
// wait means a process stuck while holding the file.
const stateLockWait = 30 * time.Second

// stateFile is state.db opened for one transaction at a time, never for
// a whole command, so that a running sync and one-shot commands of the
// same device work at the same time (SPEC.md §9 "Sharing"). Readers share
// the file (a shared lock); a writer has it alone. Its View and Update are
// bbolt's.
type stateFile struct {
	path string
}

// stateMapRoom is how far beyond its size state.db is mapped for a write
// transaction. bbolt maps the file again when a transaction grows it past
// the mapping, and first copies every node the transaction holds out of
// the old one: a first sync storing thousands of entries and a snapshot of
// megabytes did that again and again (a tenth of its CPU). It reserves
// address space, not memory, except on Windows, where bbolt grows the file
// to the size mapped: there the file is mapped as before.
const stateMapRoom = 64 << 20

func (f *stateFile) open(readOnly bool) (*bolt.DB, error) {
	opts := &bolt.Options{Timeout: stateLockWait, ReadOnly: readOnly}
	if !readOnly && runtime.GOOS != "windows" {
		var size int64
		if info, err := os.Stat(f.path); err == nil {
			size = info.Size()
		}
		opts.InitialMmapSize = int(size) + stateMapRoom
	}
	db, err := bolt.Open(f.path, 0o600, opts)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("local state %s stayed locked by another coffre process for %s", f.path, stateLockWait)
	}
	if err != nil {
		return nil, fmt.Errorf("local state %s can't be read (%v): %w; restore it from a backup or enrol this device again", f.path, err, ErrCorruptState)
	}
	return db, nil
}

// View runs fn in a read transaction.
func (f *stateFile) View(fn func(*bolt.Tx) error) error {
	db, err := f.open(true)
	if err != nil {
		return err
	}
	return errors.Join(db.View(fn), db.Close())
}

// Update runs fn in a write transaction, durable when Update returns.
func (f *stateFile) Update(fn func(*bolt.Tx) error) error {
	db, err := f.open(false)
	if err != nil {
		return err
	}
	return errors.Join(db.Update(fn), db.Close())
}

// alreadyStored checks a batch of newly verified entries, at positions
// first, first+1, …, against what the file holds now: another process of
// this device may have stored some of them since this one read the file.
// Those must be the very same bytes — else the server showed this device
// two histories (a fork) — and it returns how many are stored, so that
// only the rest is written and the stored head never moves back.
// entryKind and headKind name the associated data of the entries and of
// the head (SPEC.md §9).
func (s *localState) alreadyStored(entries *bolt.Bucket, sealedHead []byte, entryKind, headKind string, first uint64, data [][]byte) (int, error) {
	var stored uint64
	if sealedHead != nil {
		head, err := s.key.Decrypt(s.aad(headKind, 0), sealedHead)
		if err != nil || len(head) < 8 {
			return 0, fmt.Errorf("local state %s: head does not decrypt: %w", s.path, ErrCorruptState)
		}
		stored = binary.BigEndian.Uint64(head)
	}
	switch {
	case first == stored+1:
		return 0, nil
	case first > stored+1:
		return 0, fmt.Errorf("local state %s holds fewer entries than this process read from it: %w", s.path, ErrCorruptState)
	}
	n := 0
	for ; n < len(data) && first+uint64(n) <= stored; n++ {
		p := first + uint64(n)
		sealed := entries.Get(posKey(p))
		if sealed == nil {
			return 0, fmt.Errorf("local state %s has no entry %d below its head: %w", s.path, p, ErrCorruptState)
		}
		mine, err := s.key.Decrypt(s.aad(entryKind, p), sealed)
		if err != nil {
			return 0, fmt.Errorf("local state %s is damaged at entry %d: %w", s.path, p, ErrCorruptState)
		}
		if !bytes.Equal(mine, data[n]) {
			return 0, fmt.Errorf("%w: the server sent this device two different entries at %d", certificate.ErrFork, p)
		}
	}
	return n, nil
}
