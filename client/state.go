package client

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// localState is the device's record of what it verified (SPEC.md §9): every
// log entry it accepted and the head it reached, and a snapshot of the
// verified organisation state (orgsnapshot.go), encrypted with the state
// key from the device key file, so that a stolen disk shows nothing without
// the passphrase. Opening it loads the snapshot and verifies again the
// entries beyond it: a damaged or edited file is reported, never silently
// reset.
type localState struct {
	path string
	db   *stateFile
	key  crypto.SecretKey
	// names keys the MACs that stand for file paths in bucket keys
	// (SPEC.md §9): a name is never written in clear, not even in a key
	// that bbolt later frees.
	names crypto.SecretKey
	// snapshotAt is the position of the stored organisation snapshot as
	// this process last saw it (0: none), to decide when to write the next.
	snapshotAt uint64
	closed     bool
}

var (
	bucketLog  = []byte("log")
	bucketMeta = []byte("meta")
	keyHead    = []byte("head")
	// keySnapshot holds the organisation snapshot (snapshot.go), in a
	// bucket of its own, bucketSnapshot: in meta, beside the heads, its
	// megabytes (a large organisation's state) were copied and written
	// again at each head saved, since bbolt writes a changed page whole.
	keySnapshot    = []byte("org-snapshot")
	bucketSnapshot = []byte("org-snapshot")
)

// storedSnapshot is the stored snapshot value, or nil: in its bucket, or
// in meta for a file written before it had one (putSnapshot moves it).
func storedSnapshot(tx *bolt.Tx) []byte {
	if b := tx.Bucket(bucketSnapshot); b != nil {
		if v := b.Get(keySnapshot); v != nil {
			return v
		}
	}
	return tx.Bucket(bucketMeta).Get(keySnapshot)
}

func openState(path string, key crypto.SecretKey) (*localState, error) {
	db := shareStateFile(path)
	// Only a new file needs its buckets: a command that changes nothing
	// writes nothing.
	missing := true
	if info, err := os.Stat(path); err == nil && info.Size() > 0 { // empty: a crash as it was created
		err := db.View(func(tx *bolt.Tx) error {
			missing = tx.Bucket(bucketLog) == nil || tx.Bucket(bucketMeta) == nil
			return nil
		})
		if err != nil {
			return nil, errors.Join(err, db.close())
		}
	}
	if missing {
		err := db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketLog, bucketMeta} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, errors.Join(fmt.Errorf("local state %s: %w", path, err), db.close())
		}
	}
	return &localState{path: path, db: db, key: key, names: crypto.DeriveKey(key.Bytes(), "state-names", nil)}, nil
}

// close releases the state file, once.
func (s *localState) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.db.close()
}

func posKey(p uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], p)
	return k[:]
}

func (s *localState) aad(kind string, p uint64) []byte {
	return append([]byte("coffre/v1/state/"+kind+"/"), posKey(p)...)
}

// load returns the verified organisation this file holds: the snapshot
// of the verified state (SPEC.md §9), then each stored entry beyond it
// verified again, which must reach the stored head; all in one
// transaction, since another process may store more meanwhile. Without a
// snapshot of this version (a file written before snapshots, or by another
// version) every entry is verified from genesis: the caller then writes a
// snapshot, so that this happens once. It returns how many entries it
// verified.
func (s *localState) load(id string, root crypto.VerifyKey) (*certificate.Organisation, int, error) {
	org := certificate.NewOrganisation(id, root)
	verified := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var head certificate.Head
		if sealed := meta.Get(keyHead); sealed != nil {
			h, err := s.key.Decrypt(s.aad("head", 0), sealed)
			if err != nil || len(h) < 8 {
				return fmt.Errorf("local state %s: its head does not decrypt: %w", s.path, ErrCorruptState)
			}
			head = certificate.Head{Position: binary.BigEndian.Uint64(h), Hash: h[8:]}
		}
		if sealed := storedSnapshot(tx); sealed != nil {
			snap, err := s.openSnapshot(id, root, sealed)
			if err != nil {
				return err
			}
			if snap != nil && snap.Head.Position > head.Position {
				return fmt.Errorf("local state %s: its snapshot is beyond its head: %w", s.path, ErrCorruptState)
			}
			if snap != nil {
				org = snap
				s.snapshotAt = snap.Head.Position
			}
		}
		c := tx.Bucket(bucketLog).Cursor()
		batch := make([]certificate.Entry, 0, loadBatch)
		apply := func() error {
			n, err := org.ApplyAll(batch)
			verified += n
			batch = batch[:0]
			if err != nil {
				return fmt.Errorf("local state %s holds an entry that no longer verifies (%v): %w", s.path, err, ErrCorruptState)
			}
			return nil
		}
		for k, v := c.Seek(posKey(org.Head.Position + 1)); k != nil; k, v = c.Next() {
			p := binary.BigEndian.Uint64(k)
			data, err := s.key.Decrypt(s.aad("log", p), v)
			if err != nil {
				return fmt.Errorf("local state %s is damaged at entry %d: %w", s.path, p, ErrCorruptState)
			}
			if batch = append(batch, certificate.Entry{Position: p, Data: data}); len(batch) == loadBatch {
				if err := apply(); err != nil {
					return err
				}
			}
		}
		if err := apply(); err != nil {
			return err
		}
		openings, err := s.identities(tx)
		if err != nil {
			return err
		}
		if err := showIdentities(org, openings, 0); err != nil {
			return fmt.Errorf("local state %s: %v: %w", s.path, err, ErrCorruptState)
		}
		if org.Head.Position != head.Position || (head.Position > 0 && !bytes.Equal(head.Hash, org.Head.Hash)) {
			return fmt.Errorf("local state %s: head does not match its entries: %w", s.path, ErrCorruptState)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return org, verified, nil
}

// loadBatch is how many stored entries load verifies at a time (on every
// core, certificate.ApplyAll).
const loadBatch = 1024

// save stores newly verified entries and the new head in one transaction.
func (s *localState) save(entries []verifiedEntry, head certificate.Head) error {
	return s.saveWithSnapshot(entries, nil, head, nil)
}

// saveWithSnapshot is save, and in the same transaction, when snap (the
// state verified at head, or nil) is worth it (snapshotDue), its snapshot,
// and the identity openings that came with the entries (SPEC.md §17).
func (s *localState) saveWithSnapshot(entries []verifiedEntry, openings map[string][]byte, head certificate.Head, snap *certificate.Organisation) error {
	if len(entries) == 0 {
		return nil
	}
	return s.savedErr(s.db.Update(s.saveTx(entries, openings, head, snap)))
}

// saveWithSnapshotAside is saveWithSnapshot on another goroutine
// (stateFile.UpdateAside): it returns what waits for it; every later
// write of this process waits for it, and fails if it failed. A save
// with a snapshot due is done at once (putSnapshot updates what this
// process knows of the stored snapshot).
func (s *localState) saveWithSnapshotAside(entries []verifiedEntry, head certificate.Head, snap *certificate.Organisation) func() error {
	if len(entries) == 0 || s.snapshotDue(head.Position) {
		err := s.saveWithSnapshot(entries, nil, head, snap)
		return func() error { return err }
	}
	wait := s.db.UpdateAside(s.saveTx(entries, nil, head, snap))
	return func() error { return s.savedErr(wait()) }
}

func (s *localState) savedErr(err error) error {
	if err != nil {
		return fmt.Errorf("saving local state %s: %w", s.path, err)
	}
	return nil
}

// saveTx is saveWithSnapshot's transaction; the snapshot, if due, is
// sealed now, before it: the transaction holds the file.
func (s *localState) saveTx(entries []verifiedEntry, openings map[string][]byte, head certificate.Head, snap *certificate.Organisation) func(*bolt.Tx) error {
	var sealedSnap []byte
	if snap != nil && snap.Head.Position == head.Position && s.snapshotDue(head.Position) {
		sealedSnap = s.sealSnapshot(snap)
	}
	data := make([][]byte, len(entries))
	for i, e := range entries {
		data[i] = e.data
	}
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLog)
		n, err := s.alreadyStored(b, tx.Bucket(bucketMeta).Get(keyHead), "log", "head", entries[0].position, data)
		if err != nil {
			return err
		}
		if n < len(entries) {
			for _, e := range entries[n:] {
				if err := b.Put(posKey(e.position), s.key.Encrypt(s.aad("log", e.position), e.data)); err != nil {
					return err
				}
			}
			h := append(posKey(head.Position), head.Hash...)
			if err := tx.Bucket(bucketMeta).Put(keyHead, s.key.Encrypt(s.aad("head", 0), h)); err != nil {
				return err
			}
		}
		if err := s.putIdentities(tx, openings); err != nil {
			return err
		}
		if sealedSnap == nil {
			return nil
		}
		// Every entry up to head is now stored, and those another process
		// stored first are the ones snap verified (alreadyStored).
		return s.putSnapshot(tx, sealedSnap, head.Position)
	}
}

type verifiedEntry struct {
	position uint64
	data     []byte
}

func vaultBucket(vaultID string) []byte  { return []byte("vault/" + vaultID) }
func vaultHeadKey(vaultID string) []byte { return []byte("vault-head/" + vaultID) }

// vaultHeadIn opens the vault head stored in tx: its position and hash
// (nil, nil: none stored).
func (s *localState) vaultHeadIn(tx *bolt.Tx, vaultID string) ([]byte, error) {
	sealed := tx.Bucket(bucketMeta).Get(vaultHeadKey(vaultID))
	if sealed == nil {
		return nil, nil
	}
	head, err := s.key.Decrypt(s.aad("vault/"+vaultID+"/head", 0), sealed)
	if err != nil || len(head) < 8 {
		return nil, fmt.Errorf("local state %s: vault head unreadable: %w", s.path, ErrCorruptState)
	}
	return head, nil
}

// loadVault rebuilds a vault's verified log from the stored entries,
// checking each again, and checks it reaches the stored head.
func (s *localState) loadVault(org *certificate.Organisation, keys *workspace.Keys, log *workspace.Log) error {
	kind := "vault/" + log.VaultID
	return s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(vaultBucket(log.VaultID)); b != nil {
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				p := binary.BigEndian.Uint64(k)
				data, err := s.key.Decrypt(s.aad(kind, p), v)
				if err != nil {
					return fmt.Errorf("local state %s is damaged at vault entry %d: %w", s.path, p, ErrCorruptState)
				}
				if _, err := log.Apply(org, keys, p, data); err != nil {
					return fmt.Errorf("local state %s holds a vault entry that no longer verifies (%v): %w", s.path, err, ErrCorruptState)
				}
			}
		}
		head, err := s.vaultHeadIn(tx, log.VaultID)
		if err == nil && head == nil {
			if log.Head.Position != 0 {
				return fmt.Errorf("local state %s has vault entries but no head: %w", s.path, ErrCorruptState)
			}
			return nil
		}
		if err != nil || binary.BigEndian.Uint64(head) != log.Head.Position || !bytes.Equal(head[8:], log.Head.Hash) {
			return fmt.Errorf("local state %s: vault head does not match its entries: %w", s.path, ErrCorruptState)
		}
		return nil
	})
}

// saveVault stores newly verified vault entries and the new head, and
// signed, the server's signed head that allowed this device's write of
// them, if not nil (SPEC.md §4.4).
func (s *localState) saveVault(vaultID string, entries []workspace.RemoteEntry, head certificate.Head, signed *coffrev1.GetHeadResponse) error {
	if len(entries) == 0 {
		if signed == nil {
			return nil
		}
		return s.keepServerHead(vaultID, signed)
	}
	data := make([][]byte, len(entries))
	for i, e := range entries {
		data[i] = e.Data
	}
	kind := "vault/" + vaultID
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(vaultBucket(vaultID))
		if err != nil {
			return err
		}
		n, err := s.alreadyStored(b, tx.Bucket(bucketMeta).Get(vaultHeadKey(vaultID)), kind, kind+"/head", entries[0].Position, data)
		if err != nil {
			return err
		}
		if signed != nil {
			if err := s.putSigned(tx, bucketServerHeads, s.serverHeadSlot(vaultID), signed); err != nil {
				return err
			}
		}
		if n == len(entries) {
			return nil
		}
		for _, e := range entries[n:] {
			if err := b.Put(posKey(e.Position), s.key.Encrypt(s.aad(kind, e.Position), e.Data)); err != nil {
				return err
			}
		}
		h := append(posKey(head.Position), head.Hash...)
		return tx.Bucket(bucketMeta).Put(vaultHeadKey(vaultID), s.key.Encrypt(s.aad(kind+"/head", 0), h))
	})
	if err != nil {
		return fmt.Errorf("saving local state %s: %w", s.path, err)
	}
	return nil
}

var bucketInvitations = []byte("invitations")

// invitationRecord is what this device asked for when it created an
// invitation. Greeting signs from this record, never from what the server
// lists: a server that edits a stored invitation can't get a member
// enrolled with another profile or address.
type invitationRecord struct {
	Kind    string    `json:"kind"`
	Email   string    `json:"email"`
	Profile string    `json:"profile"`
	Expires time.Time `json:"expires"`
}

func (s *localState) saveInvitation(id string, r invitationRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketInvitations)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), s.key.Encrypt(append([]byte("coffre/v1/state/invitation/"), id...), data))
	})
}

func (s *localState) invitation(id string) (invitationRecord, bool, error) {
	var r invitationRecord
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketInvitations)
		if b == nil {
			return nil
		}
		sealed := b.Get([]byte(id))
		if sealed == nil {
			return nil
		}
		data, err := s.key.Decrypt(append([]byte("coffre/v1/state/invitation/"), id...), sealed)
		if err != nil || json.Unmarshal(data, &r) != nil {
			return fmt.Errorf("local state %s: invitation %s: %w", s.path, id, ErrCorruptState)
		}
		found = true
		return nil
	})
	return r, found, err
}

// each calls fn with every stored organisation log entry, in order.
func (s *localState) each(fn func(p uint64, data []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			p := binary.BigEndian.Uint64(k)
			data, err := s.key.Decrypt(s.aad("log", p), v)
			if err != nil {
				return fmt.Errorf("local state %s is damaged at entry %d: %w", s.path, p, ErrCorruptState)
			}
			if err := fn(p, data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Uploads in progress: the blocks already sent for a path, with their
// keys, encrypted under the state key, so that an interrupted upload
// resumes without sending them again.

func uploadsBucket(vaultID string) []byte { return []byte("uploads/" + vaultID) }

type sentBlock struct {
	ID     string `json:"id"`
	Key    []byte `json:"key"`
	Digest []byte `json:"digest"`
	Size   uint64 `json:"size"`
}

// uploadPrefix is the key prefix of a path's sent blocks: a MAC of the
// path, so that the file shows no name.
func (s *localState) uploadPrefix(vaultID, path string) []byte {
	d := s.names.MAC("upload-path", []byte(vaultID), []byte(path))
	return d[:]
}

// blocksSent records blocks an upload of path sent, in one transaction.
func (s *localState) blocksSent(vaultID, path string, bs []workspace.Block) error {
	type record struct{ k, v []byte }
	records := make([]record, 0, len(bs))
	for _, b := range bs {
		data, err := json.Marshal(sentBlock{b.ID, b.Key.Bytes(), b.Digest[:], b.Size})
		if err != nil {
			return err
		}
		blockMAC := s.names.MAC("upload-block", []byte(vaultID), []byte(path), []byte(b.ID))
		k := append(s.uploadPrefix(vaultID, path), blockMAC[:]...)
		records = append(records, record{k, s.key.Encrypt(append([]byte("coffre/v1/state/upload/"), k...), data)})
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(uploadsBucket(vaultID))
		if err != nil {
			return err
		}
		for _, r := range records {
			if err := bk.Put(r.k, r.v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *localState) uploaded(vaultID, path string) []workspace.Block {
	var out []workspace.Block
	prefix := s.uploadPrefix(vaultID, path)
	s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(uploadsBucket(vaultID))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			data, err := s.key.Decrypt(append([]byte("coffre/v1/state/upload/"), k...), v)
			var sb sentBlock
			if err != nil || json.Unmarshal(data, &sb) != nil || len(sb.Digest) != len(crypto.Digest{}) {
				continue // damaged: that block is simply sent again
			}
			key, err := crypto.ParseSecretKey(sb.Key)
			if err != nil {
				continue
			}
			var d crypto.Digest
			copy(d[:], sb.Digest)
			out = append(out, workspace.Block{ID: sb.ID, Key: key, Digest: d, Size: sb.Size})
		}
		return nil
	})
	return out
}

func (s *localState) uploadDone(vaultID, path string) error {
	prefix := s.uploadPrefix(vaultID, path)
	return s.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(uploadsBucket(vaultID))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func statePath(dir string) string { return filepath.Join(dir, "state.db") }

// orderedStore stores verified organisation log entries
// (saveWithSnapshot) in the order they are handed to it, on a goroutine
// of its own. After a failure it stores nothing more: wait returns that
// error.
type orderedStore struct {
	jobs chan storeJob
	done chan struct{}
	err  error // set by the goroutine, read after done
}

type storeJob struct {
	entries  []verifiedEntry
	openings map[string][]byte
	head     certificate.Head
	snap     *certificate.Organisation
}

// storeInOrder starts an orderedStore. Until its wait returns, only it
// uses s.
func (s *localState) storeInOrder() *orderedStore {
	o := &orderedStore{jobs: make(chan storeJob, 4), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for j := range o.jobs {
			if o.err == nil {
				o.err = s.saveWithSnapshot(j.entries, j.openings, j.head, j.snap)
			}
		}
	}()
	return o
}

// store hands it entries verified up to head, and snap, the state at
// head, whose snapshot it stores with them if due; snap must not change
// any more.
func (o *orderedStore) store(entries []verifiedEntry, openings map[string][]byte, head certificate.Head, snap *certificate.Organisation) {
	o.jobs <- storeJob{entries, openings, head, snap}
}

// wait returns once everything handed to o is stored, or the error that
// stopped it.
func (o *orderedStore) wait() error {
	close(o.jobs)
	<-o.done
	return o.err
}
