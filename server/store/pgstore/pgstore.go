// Package pgstore is the PostgreSQL storage backend: every organisation's
// metadata and logs in one database, which any number of server processes
// may share. Blocks are kept in a store.BlockStore: a directory, as with
// the embedded store, or this database too (Blocks, blocks.go).
//
// What else the processes sharing a database need of one another goes
// through it as well: the events of Watch streams through LISTEN/NOTIFY
// (Bus, bus.go) and the enrolment relay through tables and notifications
// (Relay, relay.go), over one listening connection per process
// (notify.go).
//
// The tables are in migrations/, which Open applies (schema.go). Every
// method is one transaction at READ COMMITTED; what must not interleave is
// serialised by row locks:
//
//   - An append locks its log's row in log_heads (SELECT ... FOR UPDATE),
//     checks the entries against the head it holds, inserts them and moves
//     the head, all before committing. Writers in every process therefore
//     append one after another and the position and chain rules of
//     store.Store hold exactly; the loser of a race gets store.ErrConflict.
//   - An invitation is read FOR UPDATE before it is changed or spent.
//   - Bootstrap locks its organisation's row (FOR NO KEY UPDATE, which
//     leaves the foreign-key checks of other writers free).
//
// Locks are only ever taken in the order organisation, log head,
// invitation, so no two transactions can wait on each other in a cycle.
// The connections of one device are serialised by a transaction advisory
// lock (connection.go).
//
// Times are kept to the microsecond, PostgreSQL's precision; NULL is the
// zero time. Backup writes a JSON-lines dump that Restore loads (backup.go).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffre/coffre/server/store"
)

// Store is a store.Store kept in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// hints are a few connections whose commits do not wait for their
	// flush to disk (synchronous_commit off for the session), for what
	// may be lost in a crash of PostgreSQL's last moments: request nonces
	// (nonces.go) and events (bus.go). One statement each, where a
	// transaction that sets it makes four.
	hints *pgxpool.Pool
	// notifier listens for the other processes' notifications, once a
	// Bus or a Relay needs it (notify.go).
	notifier *notifier
}

var _ store.Store = (*Store)(nil)

// DefaultMaxConns is the number of connections a store opens at most
// (the hints' quarter of them included) unless the URL sets
// pool_max_conns. pgxpool's own default (the number of CPUs, at least
// 4) left a server under 100 clients waiting on the pool with its CPU
// idle (BENCHMARKS.md, "concurrent-postgres"); four processes at this size
// stay under PostgreSQL's default max_connections of 100.
const DefaultMaxConns = 24

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; pool_max_conns and the other pgxpool settings may be
// given in it), brings its schema up to date and returns the store.
// Passwords are best left out of url: the PGPASSWORD variable and the
// ~/.pgpass file are read too.
func Open(ctx context.Context, url string) (*Store, error) {
	return open(ctx, url, nil)
}

// open is Open, with configure (if not nil) called on the pool's settings
// before it connects: the tests count round trips with it.
func open(ctx context.Context, url string, configure func(*pgxpool.Config)) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL store: %w", err)
	}
	where := fmt.Sprintf("database %q on %s", cfg.ConnConfig.Database, cfg.ConnConfig.Host)
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if configure != nil {
		configure(cfg)
	}
	// The hints' connections are a quarter of the pool's size, taken
	// from it: a process opens as many connections as before.
	hintsCfg := cfg.Copy()
	hintsCfg.MaxConns = max(1, cfg.MaxConns/4)
	cfg.MaxConns = max(1, cfg.MaxConns-hintsCfg.MaxConns)
	hintsCfg.MinConns = min(hintsCfg.MinConns, hintsCfg.MaxConns)
	if hintsCfg.ConnConfig.RuntimeParams == nil {
		hintsCfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	hintsCfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL store %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening PostgreSQL store %s: %w", where, err)
	}
	hints, err := pgxpool.NewWithConfig(ctx, hintsCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening PostgreSQL store %s: %w", where, err)
	}
	return &Store{pool: pool, hints: hints, notifier: newNotifier(pool.Config().ConnConfig)}, nil
}

// Close closes every connection, the listening one of the Bus and Relay
// too. Calling it again does nothing.
func (s *Store) Close() error {
	s.notifier.close()
	s.hints.Close()
	s.pool.Close()
	return nil
}

// inTx runs fn in one transaction, committed if fn returns nil and rolled
// back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// querier is what a pool and a transaction share.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// checkOrg is for a lookup that found nothing: it says whether that is
// because the organisation does not exist. Organisations are never
// deleted, so asking after the lookup, even outside its transaction, gives
// the answer that held during it.
func checkOrg(ctx context.Context, q querier, orgID string) error {
	var exists bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organisations WHERE id = $1)`, orgID).Scan(&exists)
	switch {
	case err != nil:
		return err
	case !exists:
		return fmt.Errorf("organisation %w", store.ErrNotFound)
	}
	return nil
}

// SQLSTATE codes the store turns into store errors.
const (
	foreignKeyViolation = "23503" // a row of an organisation that does not exist
	uniqueViolation     = "23505"
)

// pgError returns err's PostgreSQL error if it has that SQLSTATE code.
func pgError(err error, code string) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == code {
		return pgErr, true
	}
	return nil, false
}

func timestamptz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func fromTimestamptz(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
