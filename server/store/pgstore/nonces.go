package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	// One round trip: the four statements go in one batch.
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SET LOCAL synchronous_commit = off`)
	insert := b.Queue(`INSERT INTO request_nonces (device_id, nonce, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		deviceID, nonce, at)
	b.Queue(`COMMIT`)
	var fresh bool
	insert.Exec(func(tag pgconn.CommandTag) error {
		fresh = tag.RowsAffected() == 1
		return nil
	})
	if err := n.s.pool.SendBatch(ctx, b).Close(); err != nil {
		return false, fmt.Errorf("recording a request nonce: %w", err)
	}
	return fresh, nil
}

// Forget deletes the nonces of requests made before a time.
func (n *Nonces) Forget(ctx context.Context, before time.Time) error {
	if _, err := n.s.pool.Exec(ctx, `DELETE FROM request_nonces WHERE at < $1`, before); err != nil {
		return fmt.Errorf("forgetting old request nonces: %w", err)
	}
	return nil
}
