package hostile

import (
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
type boltBacking struct {
	dir string
}

func newBolt(dir string) *boltBacking { return &boltBacking{dir: dir} }

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
	return os.ReadFile(b.blockPath(orgID, vaultID, blockID))
}

func (b *boltBacking) writeBlock(orgID, vaultID, blockID string, data []byte) error {
	p := b.blockPath(orgID, vaultID, blockID)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o600)
}

func (b *boltBacking) removeBlock(orgID, vaultID, blockID string) error {
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
	return out, nil
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
