package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffre/coffre/server/store"
)

// Nonces is the replay cache of request nonces (store.Nonces, SPEC.md
// §6.1 and §13) in the database of a Store, shared by every server process
// on it: a request accepted by one process is refused if replayed to
// another.
type Nonces struct {
	s *Store
}

// NewNonces returns the replay cache in s's database. It uses s's
// connections: close s, not it.
func NewNonces(s *Store) *Nonces { return &Nonces{s: s} }

// Fresh records a device's request nonce and reports whether it was new.
// Of two processes recording one nonce at once, exactly one sees it new
// (the primary key). The commit is not waited for on disk
// (synchronous_commit off): a crash of PostgreSQL may lose the nonces of
// its last moments, not more, and the requests of those moments were
// answered before it.
func (n *Nonces) Fresh(ctx context.Context, deviceID string, nonce []byte, at time.Time) (bool, error) {
	b := &pgx.Batch{}
	fresh := queueNonce(b, deviceID, nonce, at)
	if err := n.s.hints.SendBatch(ctx, b).Close(); err != nil {
		return false, fmt.Errorf("recording a request nonce: %w", err)
	}
	return *fresh, nil
}

var _ store.LogNonces = (*Nonces)(nil)

// FreshReadLog is Fresh and Store.ReadLog in one round trip: the nonce's
// insert, then the read, pipelined (one transaction, committed without
// waiting for the flush). The read sees the log as it was when it
// started; a failed read leaves nothing recorded.
func (n *Nonces) FreshReadLog(ctx context.Context, deviceID string, nonce []byte, at time.Time, orgID string, from uint64, limit int) (bool, []store.LogEntry, error) {
	b := &pgx.Batch{}
	fresh := queueNonce(b, deviceID, nonce, at)
	read := queueReadEntries(b, orgID, orgLogID, from, limit)
	if err := n.s.hints.SendBatch(ctx, b).Close(); err != nil {
		return false, nil, fmt.Errorf("recording a request nonce and reading the log of %s from %d: %w", orgID, from, err)
	}
	entries, err := read.result()
	if err != nil {
		return false, nil, fmt.Errorf("reading the log of %s from %d: %w", orgID, from, err)
	}
	return *fresh, entries, nil
}

// queueNonce queues the nonce's insert into b, for the hints'
// connections (Store.hints); *fresh is set once b is closed.
func queueNonce(b *pgx.Batch, deviceID string, nonce []byte, at time.Time) *bool {
	fresh := new(bool)
	b.Queue(`INSERT INTO request_nonces (device_id, nonce, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		deviceID, nonce, at).Exec(func(tag pgconn.CommandTag) error {
		*fresh = tag.RowsAffected() == 1
		return nil
	})
	return fresh
}

// Forget deletes the nonces of requests made before a time.
func (n *Nonces) Forget(ctx context.Context, before time.Time) error {
	if _, err := n.s.pool.Exec(ctx, `DELETE FROM request_nonces WHERE at < $1`, before); err != nil {
		return fmt.Errorf("forgetting old request nonces: %w", err)
	}
	return nil
}
