package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coffre/coffre/server/store"
)

// connectionLockClass is the first key ("conn" in ASCII) of the advisory
// locks that serialise one device's connections; the second is a hash of
// the organisation and device ids. Two devices whose hashes collide only
// wait for each other.
const connectionLockClass int32 = 0x636f6e6e

// RecordConnection stores c and returns the device's connection just
// before it in time. A connection of the same device at the same
// microsecond counts as the previous one, and is replaced.
func (s *Store) RecordConnection(ctx context.Context, orgID string, c store.Connection) (store.Connection, error) {
	if c.DeviceID == "" || strings.IndexByte(c.DeviceID, 0) >= 0 || c.Time.Before(time.Unix(0, 1)) {
		return store.Connection{}, errors.New("recording connection: empty device id, NUL in device id or time before 1970")
	}
	var prev store.Connection
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Without the lock, two logins of one device at once could both
		// get the same previous connection back.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, connectionLockClass, deviceLockKey(orgID, c.DeviceID)); err != nil {
			return err
		}
		// Both parts of the statement see the table as it was before it.
		var at pgtype.Timestamptz
		var addr string
		err := tx.QueryRow(ctx, `WITH previous AS (
				SELECT connected_at, address FROM connections
				WHERE org_id = $1 AND device_id = $2 AND connected_at <= $3
				ORDER BY connected_at DESC LIMIT 1
			), recorded AS (
				INSERT INTO connections (org_id, device_id, connected_at, address) VALUES ($1, $2, $3, $4)
				ON CONFLICT (org_id, device_id, connected_at) DO UPDATE SET address = excluded.address
			)
			SELECT connected_at, address FROM previous`,
			orgID, c.DeviceID, timestamptz(c.Time), c.Address).Scan(&at, &addr)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			prev = store.Connection{}
			return nil
		case err != nil:
			return err
		}
		prev = store.Connection{DeviceID: c.DeviceID, Time: fromTimestamptz(at), Address: addr}
		return nil
	})
	if _, ok := pgError(err, foreignKeyViolation); ok {
		err = fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Connection{}, fmt.Errorf("recording connection of %s in %s: %w", c.DeviceID, orgID, err)
	}
	return prev, nil
}

func deviceLockKey(orgID, deviceID string) int32 {
	h := fnv.New32a()
	h.Write([]byte(orgID))
	h.Write([]byte{0})
	h.Write([]byte(deviceID))
	return int32(h.Sum32())
}

// Connections returns up to limit connections, newest first, of one device
// or of every device of the organisation.
func (s *Store) Connections(ctx context.Context, orgID, deviceID string, limit int) ([]store.Connection, error) {
	var conns []store.Connection
	var err error
	if limit > 0 {
		var rows pgx.Rows
		if deviceID == "" {
			rows, err = s.pool.Query(ctx, `SELECT device_id, connected_at, address FROM connections
				WHERE org_id = $1 ORDER BY connected_at DESC, device_id DESC LIMIT $2`, orgID, limit)
		} else {
			rows, err = s.pool.Query(ctx, `SELECT device_id, connected_at, address FROM connections
				WHERE org_id = $1 AND device_id = $2 ORDER BY connected_at DESC LIMIT $3`, orgID, deviceID, limit)
		}
		if err == nil {
			conns, err = pgx.CollectRows(rows, scanConnection)
		}
	}
	if err == nil && len(conns) == 0 {
		conns, err = nil, checkOrg(ctx, s.pool, orgID)
	}
	if err != nil {
		return nil, fmt.Errorf("listing connections of %q in %s: %w", deviceID, orgID, err)
	}
	return conns, nil
}

func scanConnection(row pgx.CollectableRow) (store.Connection, error) {
	var c store.Connection
	var at pgtype.Timestamptz
	if err := row.Scan(&c.DeviceID, &at, &c.Address); err != nil {
		return store.Connection{}, err
	}
	c.Time = fromTimestamptz(at)
	return c, nil
}
