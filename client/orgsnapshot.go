package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// The organisation snapshot (SPEC.md §9): the verified, folded state at
// a head, sealed under the state key, so that opening a device loads it
// and verifies only the entries stored beyond it instead of the whole log.
// It is authenticated by the state key alone, and that suffices: the AEAD
// refuses any byte changed by someone without the key, and whoever has the
// key has the device itself (its key file, unlocked).

// The stored value is u64be(position of the snapshot's head) ||
// u32be(certificate.SnapshotVersion) || the sealed snapshot, whose
// associated data binds it to its place in the file, that position and
// that version. Both are read without decrypting the whole state (the
// position is the number of log entries under it, which the file shows
// anyway).
const snapshotPrefix = 12

func (s *localState) snapshotAAD(p uint64, version uint32) []byte {
	return binary.BigEndian.AppendUint32(s.aad("org-snapshot", p), version)
}

// sealSnapshot returns the value to store for org, sealed straight after
// its prefix: the snapshot of a large organisation is megabytes.
func (s *localState) sealSnapshot(org *certificate.Organisation) []byte {
	p := org.Head.Position
	snap := org.Snapshot()
	out := make([]byte, 0, snapshotPrefix+crypto.SecretOverhead+len(snap))
	out = binary.BigEndian.AppendUint32(append(out, posKey(p)...), certificate.SnapshotVersion)
	return s.key.EncryptTo(out, s.snapshotAAD(p, certificate.SnapshotVersion), snap)
}

// snapshotPosition reads the position and version a stored value claims.
func (s *localState) snapshotPosition(stored []byte) (uint64, uint32, error) {
	if len(stored) < snapshotPrefix {
		return 0, 0, fmt.Errorf("local state %s: its organisation snapshot is truncated: %w", s.path, ErrCorruptState)
	}
	return binary.BigEndian.Uint64(stored), binary.BigEndian.Uint32(stored[8:]), nil
}

// openSnapshot decrypts and decodes a stored snapshot. A snapshot of
// another version is not an error: it returns nil, and the log is verified
// again from genesis (what a file without a snapshot costs). Anything else
// wrong with it is ErrCorruptState: the file was damaged or edited.
func (s *localState) openSnapshot(id string, root crypto.VerifyKey, stored []byte) (*certificate.Organisation, error) {
	p, version, err := s.snapshotPosition(stored)
	if err != nil || version != certificate.SnapshotVersion {
		return nil, err
	}
	data, err := s.key.Decrypt(s.snapshotAAD(p, version), stored[snapshotPrefix:])
	if err != nil {
		return nil, fmt.Errorf("local state %s: its organisation snapshot does not decrypt: %w", s.path, ErrCorruptState)
	}
	org, err := certificate.FromSnapshot(id, root, data)
	if err == nil && org.Head.Position != p {
		err = fmt.Errorf("it claims head %d, is at %d", p, org.Head.Position)
	}
	if err != nil {
		return nil, fmt.Errorf("local state %s: its organisation snapshot (%v): %w", s.path, err, ErrCorruptState)
	}
	return org, nil
}

// A snapshot is written, by the Sync that verified the state or by an
// open that had to verify many stored entries, once the entries beyond the
// stored one are at least 1/snapshotShare of the log: opening then
// verifies at most that share of it (78 entries of a log of 20,000: a few
// milliseconds), and writing snapshots, each the size of the whole state,
// costs in proportion to what the log grows. A small log gets one at each
// Sync that brings something: it is small. Variables so that tests can
// change them.
var (
	snapshotMinEntries uint64 = 1
	snapshotShare      uint64 = 256
)

// snapshotDue reports whether a snapshot of a state at head is worth
// writing, given the stored one this process knows.
func (s *localState) snapshotDue(head uint64) bool {
	beyond := head - min(head, s.snapshotAt)
	return beyond >= snapshotMinEntries && beyond*snapshotShare >= head
}

// snapshotIfDue writes a snapshot of org, a state this process verified,
// when snapshotDue says so. A snapshot changes only how long the next open
// takes, so failing to write one (another process holding the file for
// long, a full disk) is not an error of the command; a stored log that
// contradicts org, or a damaged file, is.
func (s *localState) snapshotIfDue(org *certificate.Organisation) error {
	if !s.snapshotDue(org.Head.Position) {
		return nil
	}
	if err := s.saveSnapshot(org); errors.Is(err, certificate.ErrFork) || errors.Is(err, ErrCorruptState) {
		return err
	}
	return nil
}

// saveSnapshot stores org, a state this process verified, as the
// snapshot, unless the stored one is as new. The entry stored at org's
// head must be the one org verified there, so that a snapshot never
// disagrees with the stored log (another process of this device may have
// stored entries meanwhile: the same ones, or save would have refused a
// fork).
func (s *localState) saveSnapshot(org *certificate.Organisation) error {
	if org.Head.Position == 0 {
		return nil
	}
	sealed := s.sealSnapshot(org) // before the transaction: it holds the file
	p := org.Head.Position
	prev, _ := org.HashAt(p - 1)
	err := s.db.Update(func(tx *bolt.Tx) error {
		sealedEntry := tx.Bucket(bucketLog).Get(posKey(p))
		if sealedEntry == nil {
			return fmt.Errorf("local state %s has no entry %d for its snapshot: %w", s.path, p, ErrCorruptState)
		}
		data, err := s.key.Decrypt(s.aad("log", p), sealedEntry)
		if err != nil {
			return fmt.Errorf("local state %s is damaged at entry %d: %w", s.path, p, ErrCorruptState)
		}
		if !bytes.Equal(certificate.EntryHash(prev, data), org.Head.Hash) {
			return fmt.Errorf("%w: the entry stored at %d is not the one this process verified", certificate.ErrFork, p)
		}
		return s.putSnapshot(tx, sealed, p)
	})
	if err != nil {
		return fmt.Errorf("saving the organisation snapshot in %s: %w", s.path, err)
	}
	return nil
}

// putSnapshot stores a sealed snapshot at position p, unless the stored
// one is of this version and as new.
func (s *localState) putSnapshot(tx *bolt.Tx, sealed []byte, p uint64) error {
	if stored := storedSnapshot(tx); stored != nil {
		at, version, err := s.snapshotPosition(stored)
		if err != nil {
			return err
		}
		if at >= p && version == certificate.SnapshotVersion {
			s.snapshotAt = at
			return nil
		}
	}
	b, err := tx.CreateBucketIfNotExists(bucketSnapshot)
	if err != nil {
		return err
	}
	if err := b.Put(keySnapshot, sealed); err != nil {
		return err
	}
	if err := tx.Bucket(bucketMeta).Delete(keySnapshot); err != nil {
		return err
	}
	s.snapshotAt = p
	return nil
}
