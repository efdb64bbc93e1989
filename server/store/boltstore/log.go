package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// AppendLog appends entries after checking they extend the head, and spends
// the invitation named by spend, in one transaction.
func (s *Store) AppendLog(ctx context.Context, orgID string, entries []store.LogEntry, spend string, at time.Time) (store.Head, error) {
	var head store.Head
	err := s.update(ctx, func(tx *bolt.Tx) error {
		log, err := orgSub(tx, orgID, bucketLog)
		if err != nil {
			return err
		}
		if head, err = appendEntries(log, entries); err != nil {
			return err
		}
		if spend == "" {
			return nil
		}
		_, err = updateInvitation(tx, orgID, spend, func(inv *store.Invitation) error {
			if inv.State != store.InvitationPending || !at.Before(inv.ExpiresAt) {
				return fmt.Errorf("invitation %s (%s, expires %s): %w", spend, inv.State, inv.ExpiresAt.Format(time.RFC3339), store.ErrInvitationUnusable)
			}
			inv.State = store.InvitationSpent
			return nil
		})
		return err
	})
	if err != nil {
		return store.Head{}, fmt.Errorf("appending to the log of %s: %w", orgID, err)
	}
	return head, nil
}

// appendEntries writes entries after the last one in log and returns the
// new head. The first entry's PrevHash is not checked against an empty log:
// the genesis hash is the caller's business (store.Head). The organisation
// log and every vault log go through here, so they follow the same rules.
func appendEntries(log *bolt.Bucket, entries []store.LogEntry) (store.Head, error) {
	head, err := logHead(log)
	if err != nil {
		return store.Head{}, err
	}
	for _, e := range entries {
		if e.Position != head.Position+1 || (head.Position > 0 && !bytes.Equal(e.PrevHash, head.Hash)) {
			return store.Head{}, fmt.Errorf("entry at position %d after head %d: %w", e.Position, head.Position, store.ErrConflict)
		}
		if err := log.Put(u64(e.Position), encodeEntry(e)); err != nil {
			return store.Head{}, err
		}
		head = store.Head{Position: e.Position, Hash: e.Hash}
	}
	return head, nil
}

// logHead returns the last entry of log; a nil log is an empty one.
func logHead(log *bolt.Bucket) (store.Head, error) {
	if log == nil {
		return store.Head{}, nil
	}
	k, v := log.Cursor().Last()
	if k == nil {
		return store.Head{}, nil
	}
	e, err := decodeEntry(k, v)
	return store.Head{Position: e.Position, Hash: e.Hash}, err
}

// ReadLog returns up to limit entries from position from.
func (s *Store) ReadLog(ctx context.Context, orgID string, from uint64, limit int) ([]store.LogEntry, error) {
	var entries []store.LogEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		log, err := orgSub(tx, orgID, bucketLog)
		if err != nil {
			return err
		}
		entries, err = readEntries(log, from, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the log of %s from %d: %w", orgID, from, err)
	}
	return entries, nil
}

// readEntries returns up to limit entries of log from position from; a nil
// log is an empty one. Positions are checked to follow each other from
// from, and each entry to chain to the one before: a log with a gap or a
// broken link was damaged, and saying so here names the damage.
func readEntries(log *bolt.Bucket, from uint64, limit int) ([]store.LogEntry, error) {
	if log == nil {
		return nil, nil
	}
	var entries []store.LogEntry
	want := max(from, 1)
	c := log.Cursor()
	for k, v := c.Seek(u64(from)); k != nil && len(entries) < limit; k, v = c.Next() {
		e, err := decodeEntry(k, v)
		if err != nil {
			return nil, err
		}
		if e.Position != want {
			return nil, fmt.Errorf("log entry at position %d where %d was due: %w", e.Position, want, store.ErrCorrupt)
		}
		if n := len(entries); n > 0 && !bytes.Equal(e.PrevHash, entries[n-1].Hash) {
			return nil, fmt.Errorf("log entry at position %d does not chain to the one before: %w", e.Position, store.ErrCorrupt)
		}
		entries = append(entries, e)
		want++
	}
	return entries, nil
}

// LogHead returns the last entry's position and hash.
func (s *Store) LogHead(ctx context.Context, orgID string) (store.Head, error) {
	var head store.Head
	err := s.view(ctx, func(tx *bolt.Tx) error {
		log, err := orgSub(tx, orgID, bucketLog)
		if err != nil {
			return err
		}
		head, err = logHead(log)
		return err
	})
	if err != nil {
		return store.Head{}, fmt.Errorf("reading the log head of %s: %w", orgID, err)
	}
	return head, nil
}
