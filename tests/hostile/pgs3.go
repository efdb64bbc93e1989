package hostile

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/pgstore"
	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/server/store/s3blocks"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
)

// pgs3Backing is the postgres+s3 backend: a database of its own in the
// test binary's PostgreSQL cluster (pgstore, whose Bus and Relay the
// server uses, as coffre-server run --postgres does) and a bucket of its
// own in its MinIO (s3blocks, objects ORG/VAULT/BLOCK). The edits go
// through SQL on pgstore's tables (migrations/*.sql) and through the
// MinIO client, with connections of the attacker's own.
type pgs3Backing struct {
	url    string        // the database's connection string
	pool   *pgxpool.Pool // the attacker's connections to it
	s3     s3blocks.Config
	minio  *minio.Client // root credentials
	prefix string        // of every object key: "" or ending in "/"
}

// opTimeout bounds each operation of the harness on the services.
const opTimeout = time.Minute

func newPGS3(t testing.TB, cluster *pgtest.Cluster, m *s3test.Server) (*pgs3Backing, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// NewDatabase drops the database when the test ends, after the
	// cleanups registered later: the pool's, then the server's.
	url := cluster.NewDatabase(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(pool.Close)
	bucketURL, _, err := m.NewBucket(ctx)
	if err != nil {
		return nil, err
	}
	s3cfg, err := s3blocks.ParseURL(bucketURL)
	if err != nil {
		return nil, err
	}
	b := &pgs3Backing{url: url, pool: pool, s3: s3cfg, minio: m.Client()}
	if s3cfg.Prefix != "" {
		b.prefix = s3cfg.Prefix + "/"
	}
	return b, nil
}

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

func (b *pgs3Backing) open(logger *slog.Logger) (opened, error) {
	ctx, cancel := opContext()
	defer cancel()
	st, err := pgstore.Open(ctx, b.url) // makes the schema on the first start
	if err != nil {
		return opened{}, err
	}
	// The relay's boxes are the in-memory relay's state in the embedded
	// backend, which a restart loses: so here.
	if _, err := b.pool.Exec(ctx, `TRUNCATE relay_messages, relay_boxes`); err != nil {
		st.Close()
		return opened{}, fmt.Errorf("emptying the relay: %w", err)
	}
	creds := credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, "")
	blocks, err := s3blocks.OpenConfig(ctx, b.s3, creds)
	if err != nil {
		st.Close()
		return opened{}, err
	}
	return opened{store: st, blocks: blocks, bus: pgstore.NewBus(st, logger), relay: pgstore.NewRelay(st, logger), nonces: pgstore.NewNonces(st)}, nil
}

// replaceLog rewrites one log's rows as pgstore's appends leave them: the
// entries in log_entries (log_id "" for the organisation log, the vault id
// for a vault's), and its row of log_heads at the last entry (position 0
// and no hash when there is none, as a new log's).
func (b *pgs3Backing) replaceLog(orgID, vaultID string, entries []store.LogEntry) error {
	ctx, cancel := opContext()
	defer cancel()
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organisations WHERE id = $1)`, orgID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("no organisation %s", orgID)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM log_entries WHERE org_id = $1 AND log_id = $2`, orgID, vaultID); err != nil {
			return err
		}
		var pos int64
		var hash []byte
		if n := len(entries); n > 0 {
			pos, hash = int64(entries[n-1].Position), entries[n-1].Hash
		}
		var batch pgx.Batch
		batch.Queue(`INSERT INTO log_heads (org_id, log_id, position, hash) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id, log_id) DO UPDATE SET position = excluded.position, hash = excluded.hash`,
			orgID, vaultID, pos, hash)
		for _, e := range entries {
			batch.Queue(`INSERT INTO log_entries (org_id, log_id, position, prev_hash, hash, data, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				orgID, vaultID, int64(e.Position), e.PrevHash, e.Hash, e.Data,
				pgtype.Timestamptz{Time: e.ReceivedAt, Valid: !e.ReceivedAt.IsZero()})
		}
		return tx.SendBatch(ctx, &batch).Close()
	})
}

// restore empties every table a snapshot (pgstore's Backup) holds, and the
// relay's, and loads the snapshot with pgstore's Restore.
func (b *pgs3Backing) restore(snapshot []byte) error {
	ctx, cancel := opContext()
	defer cancel()
	_, err := b.pool.Exec(ctx, `TRUNCATE organisations, log_heads, log_entries, invitations, connections, relay_messages, relay_boxes`)
	if err != nil {
		return err
	}
	st, err := pgstore.Open(ctx, b.url)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Restore(ctx, bytes.NewReader(snapshot))
}

func (b *pgs3Backing) key(orgID, vaultID, blockID string) string {
	return b.prefix + orgID + "/" + vaultID + "/" + blockID
}

func (b *pgs3Backing) restoreBlocks(blocks map[string][]byte) error {
	ctx, cancel := opContext()
	defer cancel()
	keys, err := b.list(ctx, b.prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.minio.RemoveObject(ctx, b.s3.Bucket, k, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	for rel, data := range blocks {
		if err := b.put(ctx, b.prefix+rel, data); err != nil {
			return err
		}
	}
	return nil
}

func (b *pgs3Backing) readBlock(orgID, vaultID, blockID string) ([]byte, error) {
	ctx, cancel := opContext()
	defer cancel()
	return b.get(ctx, b.key(orgID, vaultID, blockID))
}

func (b *pgs3Backing) writeBlock(orgID, vaultID, blockID string, data []byte) error {
	ctx, cancel := opContext()
	defer cancel()
	return b.put(ctx, b.key(orgID, vaultID, blockID), data)
}

func (b *pgs3Backing) removeBlock(orgID, vaultID, blockID string) error {
	ctx, cancel := opContext()
	defer cancel()
	k := b.key(orgID, vaultID, blockID)
	// S3 deletes what is not there without a word; a file is not.
	if _, err := b.minio.StatObject(ctx, b.s3.Bucket, k, minio.StatObjectOptions{}); err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	return b.minio.RemoveObject(ctx, b.s3.Bucket, k, minio.RemoveObjectOptions{})
}

func (b *pgs3Backing) allBlocks() (map[string][]byte, error) {
	return b.readPrefix(b.prefix)
}

func (b *pgs3Backing) vaultBlocks(orgID, vaultID string) (map[string][]byte, error) {
	all, err := b.readPrefix(b.prefix + orgID + "/" + vaultID + "/")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for rel, data := range all {
		parts := strings.Split(rel, "/")
		if len(parts) == 3 && parts[0] == orgID && parts[1] == vaultID {
			out[parts[2]] = data
		}
	}
	return out, nil
}

// readPrefix returns every object whose key begins with prefix, by key
// without b.prefix.
func (b *pgs3Backing) readPrefix(prefix string) (map[string][]byte, error) {
	ctx, cancel := opContext()
	defer cancel()
	keys, err := b.list(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, k := range keys {
		data, err := b.get(ctx, k)
		if err != nil {
			return nil, err
		}
		out[strings.TrimPrefix(k, b.prefix)] = data
	}
	return out, nil
}

func (b *pgs3Backing) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for obj := range b.minio.ListObjects(ctx, b.s3.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		keys = append(keys, obj.Key)
	}
	return keys, nil
}

func (b *pgs3Backing) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := b.minio.GetObject(ctx, b.s3.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// put writes an object whether or not there is one (the server's puts
// never replace one).
func (b *pgs3Backing) put(ctx context.Context, key string, data []byte) error {
	_, err := b.minio.PutObject(ctx, b.s3.Bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// storeContents is every row of every table of the database, each as its
// columns' raw values (bytea and text as stored, other types printed)
// joined by NUL bytes.
func (b *pgs3Backing) storeContents() (map[string][]byte, error) {
	ctx, cancel := opContext()
	defer cancel()
	tables, err := b.pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(tables, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, table := range names {
		rows, err := b.pool.Query(ctx, `SELECT * FROM `+pgx.Identifier{table}.Sanitize())
		if err != nil {
			return nil, err
		}
		for i := 0; rows.Next(); i++ {
			values, err := rows.Values()
			if err != nil {
				rows.Close()
				return nil, err
			}
			var row []byte
			for _, v := range values {
				switch v := v.(type) {
				case []byte:
					row = append(row, v...)
				case string:
					row = append(row, v...)
				default:
					row = fmt.Append(row, v)
				}
				row = append(row, 0)
			}
			out[fmt.Sprintf("table %s row %d", table, i)] = row
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
