// Package boltstore is the embedded storage backend: one bbolt file holds
// every organisation's metadata and logs (PROTOCOL.md "Server"; blocks live
// elsewhere, as files, because bbolt reads large cold values slowly, see
// BENCH.md).
//
// Layout of the file:
//
//	meta                          "version" → format version
//	orgs                          org id → JSON organisation
//	org/<id>/log                  8-byte big-endian position → binary log entry (codec.go)
//	org/<id>/invitations          invitation id → JSON invitation
//	org/<id>/invitation-tokens    token hash → invitation id
//	org/<id>/connections          device id, 0x00, 8-byte big-endian Unix ns → address
//	org/<id>/connections-by-time  8-byte big-endian Unix ns, device id → address
//	org/<id>/vaults/<vault>/log   as org/<id>/log, for one vault; made by its first append
//	org/<id>/vaults/<vault>       "declared" → 8-byte big-endian count of entries that declared their blocks
//	org/<id>/vaults/<vault>/blocks  block id → 'r' (declared) or 'c' (condemned) (blockrefs.go)
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/coffre/coffre/server/store"
)

// ErrLocked is returned by Open when another process holds the file.
var ErrLocked = errors.New("in use by another process")

// formatVersion is stored in the meta bucket; Open refuses any other
// but formatSmallBlocks, which a file gets with its first small block
// (smallblocks.go): the same layout, plus the bucket of small blocks.
const (
	formatVersion     = "1"
	formatSmallBlocks = "2"
)

// knownFormat reports whether Open reads a file of format version v.
func knownFormat(v []byte) bool {
	return string(v) == formatVersion || string(v) == formatSmallBlocks
}

var (
	bucketMeta   = []byte("meta")
	bucketOrgs   = []byte("orgs")
	bucketOrg    = []byte("org")
	keyVersion   = []byte("version")
	bucketLog    = []byte("log")
	bucketInv    = []byte("invitations")
	bucketInvTok = []byte("invitation-tokens")
	bucketConn   = []byte("connections")
	bucketConnT  = []byte("connections-by-time")
	bucketVaults = []byte("vaults")
)

// orgBuckets are the sub-buckets CreateOrganisation makes in each
// organisation's bucket; vaults is made by the first vault append.
var orgBuckets = [][]byte{bucketLog, bucketInv, bucketInvTok, bucketConn, bucketConnT}

// Options tunes Open.
type Options struct {
	// Timeout is how long Open waits for another process to release the
	// file before failing with ErrLocked. Zero means one second.
	Timeout time.Duration
}

// Store is a store.Store kept in one bbolt file.
type Store struct {
	db     *bolt.DB
	credit credits // storage reserved ahead (credit.go)
}

var _ store.Store = (*Store)(nil)

// Open opens the store at path, creating it if needed.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("store %s is %w", path, ErrLocked)
	case err != nil:
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	// Batch serves the calls many clients make at once (connections,
	// storage reservations, vault appends); the default 10ms delay is
	// slower than no batching at all (BENCH.md).
	db.MaxBatchDelay = time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keyVersion); {
		case v == nil:
			if err := meta.Put(keyVersion, []byte(formatVersion)); err != nil {
				return err
			}
		case !knownFormat(v):
			return fmt.Errorf("unsupported format version %q", v)
		}
		for _, name := range [][]byte{bucketOrgs, bucketOrg} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close gives back the storage reserved ahead and releases the file.
// Calling it again does nothing.
func (s *Store) Close() error {
	err := s.giveBackCredit()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// view and update check ctx before starting: bbolt transactions can't be
// cancelled once running, but they are short.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// batch is update through bolt's Batch: fn may run more than once, and
// must set what it computes rather than add to it.
func (s *Store) batch(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Batch(fn)
}

// topBucket returns one of the buckets Open makes. Open makes them, so
// none is missing unless the file was changed behind the store's back.
func topBucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("no %s bucket: %w", name, store.ErrCorrupt)
	}
	return b, nil
}

// orgBucket returns the bucket holding one organisation's sub-buckets. An
// organisation with a record and no bucket is a damaged one, not an
// unknown one.
func orgBucket(tx *bolt.Tx, orgID string) (*bolt.Bucket, error) {
	all, err := topBucket(tx, bucketOrg)
	if err != nil {
		return nil, err
	}
	if b := all.Bucket([]byte(orgID)); b != nil {
		return b, nil
	}
	orgs, err := topBucket(tx, bucketOrgs)
	if err != nil {
		return nil, err
	}
	if orgs.Get([]byte(orgID)) != nil {
		return nil, fmt.Errorf("organisation %s has no bucket: %w", orgID, store.ErrCorrupt)
	}
	return nil, fmt.Errorf("organisation %w", store.ErrNotFound)
}

// orgSub returns one sub-bucket (log, invitations...) of an organisation.
// CreateOrganisation makes them all, so a missing one is damage.
func orgSub(tx *bolt.Tx, orgID string, name []byte) (*bolt.Bucket, error) {
	b, err := orgBucket(tx, orgID)
	if err != nil {
		return nil, err
	}
	return sub(b, name)
}

// sub returns a sub-bucket that must exist.
func sub(b *bolt.Bucket, name []byte) (*bolt.Bucket, error) {
	s := b.Bucket(name)
	if s == nil {
		return nil, fmt.Errorf("no %s bucket: %w", name, store.ErrCorrupt)
	}
	return s, nil
}
