package hostile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
	"github.com/coffre/coffre/server/store/boltstore"
)

// boltBacking is the embedded backend: a boltstore file (DIR/coffre.db)
// and a blockdir block directory (DIR/blocks) in the server's data
// directory, as coffre-server run lays it out. The edits change the bolt
// file itself.
//
// With small set, the block directory keeps the small blocks of PutBlocks
// in the bolt file, as coffre-server run does. The running server holds
// that file locked, so the block calls reach them through its store (st):
// a small block is read, replaced or removed where it is; a new block is
// a file. allBlocks and restoreBlocks are the block directory's: the small
// blocks are in the bolt file, which restore replaces.
type boltBacking struct {
	dir   string
	small bool
	st    *boltstore.Store // the running server's, if small
}

func (b *boltBacking) dbPath() string    { return filepath.Join(b.dir, "coffre.db") }
func (b *boltBacking) blocksDir() string { return filepath.Join(b.dir, "blocks") }

// blockPath is BlocksDir/<organisation>/<vault>/<first 2 characters of
// the id>/<id> (SPEC.md §7.4).
func (b *boltBacking) blockPath(orgID, vaultID, blockID string) string {
	return filepath.Join(b.blocksDir(), orgID, vaultID, blockID[:2], blockID)
}

func (b *boltBacking) open(*slog.Logger) (opened, error) {
	st, err := boltstore.Open(b.dbPath(), boltstore.Options{})
	if err != nil {
		return opened{}, err
	}
	blocks, err := blockdir.Open(b.blocksDir())
	if err != nil {
		st.Close()
		return opened{}, err
	}
	if b.small {
		blocks.UseSmallBlocks(st)
		b.st = st
	}
	return opened{store: st, blocks: blocks}, nil
}

func (b *boltBacking) replaceLog(orgID, vaultID string, entries []store.LogEntry) error {
	return rewriteLogBucket(b.dbPath(), orgID, vaultID, entries)
}

func (b *boltBacking) restore(snapshot []byte) error {
	return os.WriteFile(b.dbPath(), snapshot, 0o600)
}

func (b *boltBacking) restoreBlocks(blocks map[string][]byte) error {
	if err := os.RemoveAll(b.blocksDir()); err != nil {
		return err
	}
	for rel, data := range blocks {
		p := filepath.Join(b.blocksDir(), rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (b *boltBacking) readBlock(orgID, vaultID, blockID string) ([]byte, error) {
	data, err := os.ReadFile(b.blockPath(orgID, vaultID, blockID))
	if errors.Is(err, fs.ErrNotExist) && b.st != nil {
		return b.st.SmallBlock(context.Background(), orgID, vaultID, blockID)
	}
	return data, err
}

// isSmall says whether a block is a small block of the bolt file.
func (b *boltBacking) isSmall(orgID, vaultID, blockID string) bool {
	if b.st == nil {
		return false
	}
	_, err := b.st.SmallBlock(context.Background(), orgID, vaultID, blockID)
	return err == nil
}

func (b *boltBacking) writeBlock(orgID, vaultID, blockID string, data []byte) error {
	if b.isSmall(orgID, vaultID, blockID) {
		ctx := context.Background()
		if err := b.st.DeleteSmallBlocks(ctx, orgID, vaultID, []string{blockID}); err != nil {
			return err
		}
		return b.st.PutSmallBlocks(ctx, orgID, vaultID, []store.BlockData{{ID: blockID, Data: data}}, 0)
	}
	p := b.blockPath(orgID, vaultID, blockID)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o600)
}

func (b *boltBacking) removeBlock(orgID, vaultID, blockID string) error {
	if b.isSmall(orgID, vaultID, blockID) {
		return b.st.DeleteSmallBlocks(context.Background(), orgID, vaultID, []string{blockID})
	}
	return os.Remove(b.blockPath(orgID, vaultID, blockID))
}

func (b *boltBacking) allBlocks() (map[string][]byte, error) {
	return readTree(b.blocksDir())
}

func (b *boltBacking) vaultBlocks(orgID, vaultID string) (map[string][]byte, error) {
	all, err := b.allBlocks()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for rel, data := range all {
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) == 4 && parts[0] == orgID && parts[1] == vaultID {
			out[parts[3]] = data
		}
	}
	if b.st == nil {
		return out, nil
	}
	ctx := context.Background()
	err = b.st.ListSmallBlocks(ctx, orgID, vaultID, func(info store.BlockInfo) error {
		data, err := b.st.SmallBlock(ctx, orgID, vaultID, info.ID)
		out[info.ID] = data
		return err
	})
	return out, err
}

func readTree(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() { // directories, and the operator socket
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out[rel] = data
		return nil
	})
	return out, err
}

// rewriteLogBucket replaces a log's bucket of the bolt file with entries,
// in boltstore's layout (SPEC.md §7.2): org/<id>/log for the
// organisation's log (vaultID ""), org/<id>/vaults/<vault>/log for a
// vault's, made if the vault has none yet.
func rewriteLogBucket(path, orgID, vaultID string, entries []store.LogEntry) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		orgs := tx.Bucket([]byte("org"))
		if orgs == nil {
			return errors.New("no org bucket")
		}
		parent := orgs.Bucket([]byte(orgID))
		if parent == nil {
			return fmt.Errorf("no organisation %s", orgID)
		}
		if vaultID != "" {
			vaults, err := parent.CreateBucketIfNotExists([]byte("vaults"))
			if err != nil {
				return err
			}
			if parent, err = vaults.CreateBucketIfNotExists([]byte(vaultID)); err != nil {
				return err
			}
		}
		if parent.Bucket([]byte("log")) != nil {
			if err := parent.DeleteBucket([]byte("log")); err != nil {
				return err
			}
		}
		log, err := parent.CreateBucket([]byte("log"))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := log.Put(binary.BigEndian.AppendUint64(nil, e.Position), encodeEntry(e)); err != nil {
				return err
			}
		}
		return nil
	})
}

// encodeEntry is boltstore's log entry value (SPEC.md §7.2):
// uvarint(len(PrevHash)) || PrevHash || uvarint(len(Hash)) || Hash ||
// u64be(ReceivedAt unix ns) || Data.
func encodeEntry(e store.LogEntry) []byte {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(e.PrevHash)))
	b = append(b, e.PrevHash...)
	b = binary.AppendUvarint(b, uint64(len(e.Hash)))
	b = append(b, e.Hash...)
	var ns int64
	if !e.ReceivedAt.IsZero() {
		ns = e.ReceivedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ns))
	return append(b, e.Data...)
}

// storeContents is every file of the data directory but the blocks: the
// bolt file (free pages included), the TLS pair, the public address.
func (b *boltBacking) storeContents() (map[string][]byte, error) {
	files, err := readTree(b.dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for name, data := range files {
		if !strings.HasPrefix(name, "blocks"+string(filepath.Separator)) {
			out["file "+name] = data
		}
	}
	return out, nil
}
