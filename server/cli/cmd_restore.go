package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/server/store/pgstore"
)

func newRestoreCommand() *cobra.Command {
	var dataDir, from, postgres string
	cmd := &cobra.Command{
		Use:   "restore --from FILE",
		Short: "Put a backup back: the embedded store (--data) or a new PostgreSQL database (--postgres)",
		Long: `Put a backup written by 'coffre-server backup' back in place, after the store
was lost or damaged.

The embedded store: stop the server, then
  coffre-server restore --data DIR --from FILE
FILE must be a backup of the embedded store; it is checked before anything is
replaced, copied into DIR and renamed over DIR/coffre.db in one step. The
store it replaces is kept as DIR/coffre.db.before-restore-TIME (delete it once
the restored server works). Restore refuses while a server runs on DIR.

PostgreSQL: create a new, empty database, then
  coffre-server restore --postgres URL --from dump.jsonl
loads the dump (written by 'coffre-server backup' from a server on
PostgreSQL) in one transaction, after making the schema. It refuses a
database that already holds organisations. Start the servers on it after.

Blocks are restored separately: neither backup holds them, except the
embedded store's small blocks (kept in coffre.db, restored with it). The
server never changes or deletes a block, so blocks that survived hold every
block the backup refers to. Kept in a directory (DATA/blocks) or a bucket, leave them
where they are, or put your copy back if they were lost too. Kept in
PostgreSQL (the default with --postgres), they are in the table blocks,
which the new database lacks: copy it from the old database or from your
copy, e.g. pg_dump --data-only --table=blocks OLD | psql NEW.

Keep the TLS certificate and key too (DATA/tls-cert.pem and tls-key.pem, or
the same --tls-cert/--tls-key): links pin the certificate.

A restore is a rollback: the server forgets everything written after the
backup. By design, a device that had verified later state refuses the
restored log as a rollback: a client that trusts no server cannot tell a
restore from a server hiding changes. Devices that verified nothing newer
than the backup go on as before.`,
		Example: `  coffre-server restore --data /var/lib/coffre --from coffre.db.bak
  coffre-server restore --postgres postgres://coffre@db.example.org/coffre_restored --from dump.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("--from FILE is required: the backup to restore")
			}
			if hasPassword(postgres) {
				return errors.New("--postgres: other users can read the command line: give the password in PGPASSWORD or ~/.pgpass, or the URL in " + postgresEnv)
			}
			if postgres == "" {
				postgres = os.Getenv(postgresEnv)
			}
			kind, err := backupKind(from)
			if err != nil {
				return err
			}
			if postgres != "" {
				if kind != kindDump {
					return fmt.Errorf("%s is not a PostgreSQL dump (--postgres or %s names a PostgreSQL database): to restore the embedded store, leave both out", from, postgresEnv)
				}
				return runRestorePostgres(cmd.Context(), cmd.OutOrStdout(), postgres, from)
			}
			if kind == kindDump {
				return fmt.Errorf("%s is a PostgreSQL dump: give --postgres URL (or %s) to restore it into a new database", from, postgresEnv)
			}
			return runRestoreEmbedded(cmd.Context(), cmd.OutOrStdout(), dataDir, from)
		},
	}
	dataDirFlag(cmd, &dataDir)
	cmd.Flags().StringVar(&from, "from", "", "the backup to restore: a copy of coffre.db, or a PostgreSQL dump (.jsonl)")
	cmd.Flags().StringVar(&postgres, "postgres", "", "restore the dump into this PostgreSQL database, which must hold no organisation; env "+postgresEnv)
	return cmd
}

// What a backup file is, from its first bytes.
const (
	kindUnknown = iota
	kindBolt    // a bbolt file: a copy of the embedded store
	kindDump    // a JSON-lines dump of the PostgreSQL store
)

// backupKind says what the file at path looks like; it does not check it.
func backupKind(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("no backup at %s: no such file", path)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the backup: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return 0, fmt.Errorf("%s is a directory, not a backup file", path)
	}
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("reading the backup: %w", err)
	}
	head = head[:n]
	switch {
	case n == 0:
		return 0, fmt.Errorf("%s is empty, not a coffre backup", path)
	case boltstore.IsBackup(head):
		return kindBolt, nil
	case pgstore.IsBackup(head):
		return kindDump, nil
	}
	return kindUnknown, fmt.Errorf("%s is not a coffre backup (neither a copy of the embedded store nor a PostgreSQL dump)", path)
}

// runRestoreEmbedded puts the bbolt backup from in place of dataDir's
// store (boltstore.Restore), once no server runs on dataDir.
func runRestoreEmbedded(ctx context.Context, out io.Writer, dataDir, from string) error {
	if fi, err := os.Stat(dataDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("no data directory %s: create it (with the TLS certificate and key, and the blocks) first", dataDir)
	}
	if serverAnswers(ctx, dataDir) {
		return fmt.Errorf("a server is running on %s (its operator socket answers): stop it before restoring", dataDir)
	}
	target := storePath(dataDir)
	r, err := boltstore.Restore(ctx, target, from)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %s from %s (%s)\n", target, from, plural(r.Organisations, "organisation"))
	if r.Kept != "" {
		fmt.Fprintf(out, "the store it replaced is kept as %s\n", r.Kept)
	}
	fmt.Fprintf(out, "blocks are not in the backup: if %s was lost too, put your copy back; then start the server\n", filepath.Join(dataDir, "blocks"))
	return nil
}

// serverAnswers says whether a server answers on dataDir's operator
// socket.
func serverAnswers(ctx context.Context, dataDir string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	op, ok := runningOperator(ctx, dataDir)
	if ok {
		op.Close()
	}
	return ok
}

// runRestorePostgres loads the dump from into the database at url, which
// must hold no organisation.
func runRestorePostgres(ctx context.Context, out io.Writer, url, from string) error {
	where := "the PostgreSQL database"
	if cfg, err := pgconn.ParseConfig(url); err == nil {
		where = fmt.Sprintf("database %q on %s", cfg.Database, cfg.Host)
	}
	st, err := pgstore.Open(ctx, url) // makes or migrates the schema
	if err != nil {
		return err
	}
	defer st.Close()
	orgs, err := st.Organisations(ctx)
	if err != nil {
		return err
	}
	if len(orgs) > 0 {
		return fmt.Errorf("%s is not empty (it holds %s): restore into a new, empty database", where, plural(len(orgs), "organisation"))
	}
	f, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("reading the backup: %w", err)
	}
	defer f.Close()
	if err := st.Restore(ctx, f); err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	orgs, err = st.Organisations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %s from %s into %s\n", plural(len(orgs), "organisation"), from, where)
	fmt.Fprintln(out, "blocks are not in the dump: if they are kept in PostgreSQL, copy the table blocks into this database (see --help); then start the servers on it")
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
