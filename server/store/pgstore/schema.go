package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFiles are the schema's versions, in order: NNN_what.sql is
// version NNN. A released file is never changed; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key ("coffre" in ASCII) that
// serialises the migrations of processes opening one database at once.
const migrationLock int64 = 0x636f66667265

// migrations is the SQL of versions 1, 2... in order.
var migrations = loadMigrations()

func loadMigrations() []string {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		panic("pgstore: internal error: " + err.Error())
	}
	var sqls []string // names are sorted
	for i, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		n, _, _ := strings.Cut(base, "_")
		if v, err := strconv.Atoi(n); err != nil || v != i+1 {
			panic("pgstore: internal error: migration " + base + " is not version " + strconv.Itoa(i+1))
		}
		sql, err := migrationFiles.ReadFile(name)
		if err != nil {
			panic("pgstore: internal error: " + err.Error())
		}
		sqls = append(sqls, string(sql))
	}
	return sqls
}

// schemaVersion is the version this code reads and writes.
var schemaVersion = len(migrations)

// migrate applies the versions the database lacks, each recorded in
// schema_migrations, in one transaction: the schema is either as it was or
// up to date. It refuses a database at a newer version than this code.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Held until commit: a second process waits here, then finds
		// nothing left to do.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("locking the schema: %w", err)
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		if err != nil {
			return fmt.Errorf("creating schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if current > schemaVersion {
			return fmt.Errorf("the database schema is at version %d, newer than this coffre-server's %d", current, schemaVersion)
		}
		for v, sql := range migrations[current:] {
			version := current + v + 1
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("migrating the schema to version %d: %w", version, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version); err != nil {
				return fmt.Errorf("migrating the schema to version %d: %w", version, err)
			}
		}
		return nil
	})
}
