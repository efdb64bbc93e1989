package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/vaultlog"
)

var (
	// ErrWriteConflict is returned when someone else changed the same file
	// or folder first: nothing was written, the caller's data is intact.
	ErrWriteConflict = errors.New("someone else changed it first: nothing was written, your data is intact")
	// ErrNotFound is returned for a path that does not exist.
	ErrNotFound = errors.New("no such file or folder")
	// ErrExists is returned when a name is taken.
	ErrExists = errors.New("already exists")
	// ErrNotEmpty is returned when removing a folder that has children.
	ErrNotEmpty = errors.New("folder not empty")
	// ErrNotFolder and ErrIsFolder are returned when a path is the wrong kind.
	ErrNotFolder = errors.New("not a folder")
	ErrIsFolder  = errors.New("is a folder")
	// ErrReadOnly is returned when this user's role does not allow writing.
	ErrReadOnly = errors.New("your role in this vault does not allow writing")
	// ErrArchived is returned when writing to an archived vault.
	ErrArchived = errors.New("the vault is archived")
	// ErrBadBlock is returned when a block does not match its signed
	// digest or size (SECURITY.md A10, A21).
	ErrBadBlock = errors.New("block does not match its manifest")
	// ErrWithheld is returned when the organisation log proves the vault
	// log has entries the server does not show: every key rotation is
	// followed by a checkpoint entry (SECURITY.md A30).
	ErrWithheld = errors.New("the server withholds vault entries that the organisation log proves exist (or the last key rotation was never anchored: a member who may write repairs it by opening the vault)")
)

// RemoteEntry is one entry as the server returns it.
type RemoteEntry struct {
	Position uint64
	Data     []byte
}

// Remote is the server, as a vault sees it. Everything it returns is
// checked before use.
type Remote interface {
	Append(ctx context.Context, vaultID string, entry []byte) error
	Read(ctx context.Context, vaultID string, from uint64) (entries []RemoteEntry, head uint64, err error)
	PutBlock(ctx context.Context, vaultID, blockID string, data []byte) error
	GetBlock(ctx context.Context, vaultID, blockID string) ([]byte, error)
	// ConfirmFresh confirms, before a write under keyIndex is signed, that
	// the server vouches (signed, recently) for vault as the newest vault
	// head and for org or a newer organisation head that changes nothing
	// for this write; certificate.ErrConflict if the vault log moved meanwhile
	// (SPEC.md §4.4).
	ConfirmFresh(ctx context.Context, vaultID string, keyIndex uint32, org, vault certificate.Head) error
}

// BlockCache is implemented by a Remote that keeps blocks locally: it is
// told which blocks passed their manifest's checks (only those may be
// kept) and which failed (to be dropped).
type BlockCache interface {
	BlockVerified(vaultID, blockID string, ciphertext []byte)
	BlockRejected(vaultID, blockID string)
}

// UploadJournal is implemented by a Remote that remembers the blocks of
// uploads in progress, so that an interrupted upload resumes: blocks
// already sent are not sent again (their keys are kept encrypted on the
// device, never on the server).
type UploadJournal interface {
	Uploaded(vaultID, path string) []Block
	BlockSent(vaultID, path string, b Block)
	UploadDone(vaultID, path string)
}

// Writer is the device that signs this vault's writes.
type Writer struct {
	DeviceID string
	UserID   string
	Key      *crypto.SigningKey
}

// Persist stores newly verified entries and the new head, or returns an
// error (then the state is not advanced).
type Persist func(vaultID string, entries []RemoteEntry, head certificate.Head) error

// Vault is one vault opened by a member: its verified state, its keys and
// the operations on its files.
type Vault struct {
	org      *certificate.Organisation
	vault    *certificate.Vault
	keys     *Keys
	log      *Log
	remote   Remote
	writer   Writer
	persist  Persist
	parallel int
}

// Open returns a vault over a verified log.
func Open(org *certificate.Organisation, v *certificate.Vault, keys *Keys, log *Log, remote Remote, w Writer, persist Persist) *Vault {
	return &Vault{org: org, vault: v, keys: keys, log: log, remote: remote, writer: w, persist: persist, parallel: 4}
}

// Log returns the verified state.
func (w *Vault) Log() *Log { return w.log }

// Sync fetches the entries after the verified head, verifies them and
// stores them. A log shorter than the verified head is a rollback; another
// entry at the verified head, or entries that don't extend it, are a fork;
// nothing is stored then.
func (w *Vault) Sync(ctx context.Context) error {
	for {
		mine := w.log.Head.Position
		entries, head, err := w.remote.Read(ctx, w.vault.ID, max(mine, 1))
		if err != nil {
			return err
		}
		if head < mine {
			return fmt.Errorf("%w: the server's vault log ends at %d, this device verified up to %d", certificate.ErrRollback, head, mine)
		}
		// The entry at the verified head comes first: a server holding
		// another one there has forked the log, even at equal length.
		if mine > 0 {
			if len(entries) == 0 || entries[0].Position != mine {
				return fmt.Errorf("%w: the server does not send the entry at the verified head %d", vaultlog.ErrEntryRefused, mine)
			}
			if !w.log.IsHead(mine, entries[0].Data) {
				return fmt.Errorf("%w: the server's vault entry %d is not the one this device verified", certificate.ErrFork, mine)
			}
			entries = entries[1:]
		}
		if len(entries) == 0 {
			if head > w.log.Head.Position {
				return fmt.Errorf("%w: the server claims vault entries up to %d but sends none", vaultlog.ErrEntryRefused, head)
			}
			return nil
		}
		next := w.log.Clone()
		for _, e := range entries {
			if _, err := next.Apply(w.org, w.keys, e.Position, e.Data); err != nil {
				if errors.Is(err, certificate.ErrChain) {
					return fmt.Errorf("%w: %w", certificate.ErrFork, err)
				}
				return err
			}
		}
		if err := w.persist(w.vault.ID, entries, next.Head); err != nil {
			return err
		}
		w.log = next
		if w.log.Head.Position >= head {
			return nil
		}
	}
}

// view resolves paths against one point of the history: the newest
// versions, or those as of a time.
type view struct {
	log *Log
	at  time.Time // zero: newest
}

func (v view) get(id string) (Version, bool) {
	if v.at.IsZero() {
		return v.log.Latest(id)
	}
	return v.log.AsOf(id, v.at)
}

// SplitPath cleans a vault path into its names ("/" is the root).
func SplitPath(p string) ([]string, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil, nil
	}
	names := strings.Split(p[1:], "/")
	for _, n := range names {
		if err := ValidName(n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// resolve walks from the root to the manifest at names. Each child must
// name its folder as its parent: the server can't graft a subtree
// elsewhere (SECURITY.md A11).
func (v view) resolve(names []string) (Version, error) {
	cur, ok := v.get(RootID(v.log.VaultID))
	if !ok {
		if len(names) == 0 {
			// An empty vault's root exists implicitly.
			return Version{Manifest: &Manifest{ID: RootID(v.log.VaultID), Folder: true}}, nil
		}
		return Version{}, ErrNotFound
	}
	for i, name := range names {
		if !cur.Manifest.Folder {
			return Version{}, fmt.Errorf("/%s: %w", strings.Join(names[:i], "/"), ErrNotFolder)
		}
		child, ok := cur.Manifest.Child(name)
		if !ok {
			return Version{}, fmt.Errorf("/%s: %w", strings.Join(names[:i+1], "/"), ErrNotFound)
		}
		next, ok := v.get(child.ID)
		if !ok || next.Manifest.Parent != cur.Manifest.ID || next.Manifest.Folder != child.Folder {
			return Version{}, fmt.Errorf("%w: /%s is not where its folder says", ErrBadManifest, strings.Join(names[:i+1], "/"))
		}
		cur = next
	}
	return cur, nil
}

// Stat returns the manifest at a path, newest or as of at (zero: newest).
func (w *Vault) Stat(p string, at time.Time) (Version, error) {
	names, err := SplitPath(p)
	if err != nil {
		return Version{}, err
	}
	return view{w.log, at}.resolve(names)
}

// Item is one entry of a listing.
type Item struct {
	Name    string
	ID      string
	Folder  bool
	Size    uint64
	Version uint64
	Updated time.Time
	Author  string // user id
}

// List lists a folder (or describes one file), newest or as of at.
func (w *Vault) List(p string, at time.Time) ([]Item, error) {
	v := view{w.log, at}
	cur, err := w.Stat(p, at)
	if err != nil {
		return nil, err
	}
	item := func(name string, ver Version) Item {
		return Item{Name: name, ID: ver.Manifest.ID, Folder: ver.Manifest.Folder, Size: ver.Manifest.Size,
			Version: ver.Version, Updated: ver.Time, Author: ver.User}
	}
	if !cur.Manifest.Folder {
		return []Item{item(path.Base(path.Clean("/"+p)), cur)}, nil
	}
	var out []Item
	for _, c := range cur.Manifest.Children {
		ver, ok := v.get(c.ID)
		if !ok || ver.Manifest.Parent != cur.Manifest.ID {
			return nil, fmt.Errorf("%w: %s is not where its folder says", ErrBadManifest, c.Name)
		}
		out = append(out, item(c.Name, ver))
	}
	return out, nil
}

// History lists every version of the file or folder at a path.
func (w *Vault) History(p string) ([]Version, error) {
	cur, err := w.Stat(p, time.Time{})
	if err != nil {
		return nil, err
	}
	return w.log.History(cur.Manifest.ID), nil
}

// change is what a write computes against the newest state: the new
// manifests to commit. It is recomputed when the log moved.
type change func(l *Log) ([]*Manifest, error)

// commit signs the manifests a change computes as one vault entry and
// appends it, reading the log again and recomputing when someone else
// wrote first (SPEC.md §11.5).
func (w *Vault) commit(ctx context.Context, ch change) error {
	if err := w.writable(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if err := w.Sync(ctx); err != nil {
			return err
		}
		manifests, err := ch(w.log)
		if err != nil {
			return err
		}
		// A writer kept on an old view by the server must not go on
		// encrypting to a member removed meanwhile (SECURITY.md A36).
		index, key := w.keys.Newest()
		err = w.remote.ConfirmFresh(ctx, w.vault.ID, index, w.org.Head, w.log.Head)
		if errors.Is(err, certificate.ErrConflict) && attempt < 20 {
			continue
		}
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		if now.Before(w.log.tail.Time) {
			now = w.log.tail.Time
		}
		e := &vaultlog.Entry{
			OrganisationID: w.org.ID, VaultID: w.vault.ID, Author: w.writer.DeviceID, Time: now,
			Position: w.log.Head.Position + 1, PreviousHash: w.log.Head.Hash,
			OrganisationPosition: w.org.Head.Position, OrganisationHash: w.org.Head.Hash, KeyIndex: index,
		}
		for _, m := range manifests {
			m.Updated = now
			version := w.log.NextVersion(m.ID)
			ct, err := encryptManifest(w.org.ID, w.vault.ID, version, index, key, m)
			if err != nil {
				return err
			}
			e.Writes = append(e.Writes, vaultlog.Write{ManifestID: m.ID, Version: version, Ciphertext: ct})
		}
		data, err := vaultlog.SignEntry(w.writer.Key, e)
		if err != nil {
			return err
		}
		err = w.remote.Append(ctx, w.vault.ID, data)
		if errors.Is(err, certificate.ErrConflict) && attempt < 20 {
			if err := w.Sync(ctx); err != nil {
				return err
			}
			// Refused at head + 1 while showing the same head: the
			// server holds another branch (SECURITY.md A31).
			if w.log.Head.Position == e.Position-1 {
				return fmt.Errorf("%w: the server refuses vault entry %d after the head %d it shows", certificate.ErrFork, e.Position, e.Position-1)
			}
			continue
		}
		if err != nil {
			return err
		}
		return w.Sync(ctx)
	}
}

// writable checks, on the client, what the server checks too: a write
// role, a vault not archived, and no member gone since the newest key.
func (w *Vault) writable() error {
	now := time.Now()
	switch {
	case w.vault.Archived:
		return ErrArchived
	case !w.org.RoleOf(w.vault, w.writer.UserID, now).CanWrite():
		return ErrReadOnly
	case w.org.NeedsRotation(w.vault, now):
		return fmt.Errorf("%w (an owner or manager: coffre vault rotate)", vaultlog.ErrRotationPending)
	}
	if index, _ := w.keys.Newest(); index != w.vault.KeyIndex() {
		return fmt.Errorf("%w: this device does not hold the newest key", ErrNoKey)
	}
	return nil
}

// folderFor returns the newest version of the folder at names (the root
// implicitly exists) as a copy to modify.
func folderFor(l *Log, names []string) (*Manifest, error) {
	cur, err := view{log: l}.resolve(names)
	if err != nil {
		return nil, err
	}
	if !cur.Manifest.Folder {
		return nil, fmt.Errorf("/%s: %w", strings.Join(names, "/"), ErrNotFolder)
	}
	m := *cur.Manifest
	m.Children = append([]ChildEntry(nil), cur.Manifest.Children...)
	return &m, nil
}

// Mkdir creates a folder; parents must exist.
func (w *Vault) Mkdir(ctx context.Context, p string) error {
	names, err := SplitPath(p)
	if err != nil || len(names) == 0 {
		return fmt.Errorf("mkdir %q: %w", p, errors.Join(err, ErrExists))
	}
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		parent, err := folderFor(l, names[:len(names)-1])
		if err != nil {
			return nil, err
		}
		name := names[len(names)-1]
		if _, taken := parent.Child(name); taken {
			return nil, fmt.Errorf("%s: %w", p, ErrExists)
		}
		dir := &Manifest{ID: certificate.NewID(), Parent: parent.ID, Folder: true}
		parent.Children = append(parent.Children, ChildEntry{Name: name, ID: dir.ID, Folder: true})
		sortChildren(parent.Children)
		return []*Manifest{parent, dir}, nil
	})
}

// Remove removes a file or an empty folder from its parent. Every version
// stays in the log: `get --at` a date before the removal reads it back.
func (w *Vault) Remove(ctx context.Context, p string) error { return w.RemoveIf(ctx, p, nil) }

// RemoveIf removes p only if it is still the given version (sync uses it
// so that a remote edit made meanwhile is never deleted unseen); nil means
// whatever version is there.
func (w *Vault) RemoveIf(ctx context.Context, p string, expect *Version) error {
	names, err := SplitPath(p)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errors.New("the root folder can't be removed")
	}
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		target, err := view{log: l}.resolve(names)
		if err != nil {
			return nil, err
		}
		if expect != nil && (target.Manifest.ID != expect.Manifest.ID || target.Version != expect.Version) {
			return nil, fmt.Errorf("%s: %w", p, ErrWriteConflict)
		}
		if target.Manifest.Folder && len(target.Manifest.Children) > 0 {
			return nil, fmt.Errorf("%s: %w", p, ErrNotEmpty)
		}
		parent, err := folderFor(l, names[:len(names)-1])
		if err != nil {
			return nil, err
		}
		name := names[len(names)-1]
		kept := parent.Children[:0]
		for _, c := range parent.Children {
			if c.Name != name {
				kept = append(kept, c)
			}
		}
		parent.Children = kept
		return []*Manifest{parent}, nil
	})
}

// Move renames or moves a file or folder.
func (w *Vault) Move(ctx context.Context, from, to string) error {
	src, err := SplitPath(from)
	if err != nil {
		return err
	}
	dst, err := SplitPath(to)
	if err != nil {
		return err
	}
	if len(src) == 0 || len(dst) == 0 {
		return errors.New("the root folder can't be moved")
	}
	if len(dst) > len(src) && strings.Join(dst[:len(src)], "/") == strings.Join(src, "/") {
		return errors.New("can't move a folder into itself")
	}
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		target, err := view{log: l}.resolve(src)
		if err != nil {
			return nil, err
		}
		oldParent, err := folderFor(l, src[:len(src)-1])
		if err != nil {
			return nil, err
		}
		newParent := oldParent
		if strings.Join(src[:len(src)-1], "/") != strings.Join(dst[:len(dst)-1], "/") {
			if newParent, err = folderFor(l, dst[:len(dst)-1]); err != nil {
				return nil, err
			}
		}
		if _, taken := newParent.Child(dst[len(dst)-1]); taken {
			return nil, fmt.Errorf("%s: %w", to, ErrExists)
		}
		var entry ChildEntry
		kept := oldParent.Children[:0]
		for _, c := range oldParent.Children {
			if c.Name == src[len(src)-1] {
				entry = c
			} else {
				kept = append(kept, c)
			}
		}
		oldParent.Children = kept
		entry.Name = dst[len(dst)-1]
		newParent.Children = append(newParent.Children, entry)
		sortChildren(newParent.Children)
		out := []*Manifest{oldParent}
		if newParent != oldParent {
			moved := *target.Manifest
			moved.Parent = newParent.ID
			out = append(out, newParent, &moved)
		}
		return out, nil
	})
}

// Restore makes an old version of a file current again, as a new version.
func (w *Vault) Restore(ctx context.Context, p string, version uint64) error {
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		names, err := SplitPath(p)
		if err != nil {
			return nil, err
		}
		cur, err := view{log: l}.resolve(names)
		if err != nil {
			return nil, err
		}
		// Quarantined versions (SPEC.md §11.5) leave gaps in the numbers.
		hist := l.History(cur.Manifest.ID)
		i := slices.IndexFunc(hist, func(v Version) bool { return v.Version == version })
		if i < 0 {
			return nil, fmt.Errorf("%s has versions 1 to %d (coffre history lists them)", p, l.NextVersion(cur.Manifest.ID)-1)
		}
		old := *hist[i].Manifest
		old.Parent = cur.Manifest.Parent // it stays where it is now
		if old.Folder {
			return nil, errors.New("only files are restored; restore a folder's files one by one")
		}
		return []*Manifest{&old}, nil
	})
}

// blockKey identifies a block's content, to reuse it in the next version
// of the same file (never across files: SECURITY.md A20).
type blockKey struct {
	digest crypto.Digest
	size   uint64
}

// chunkingSecret is the chunking secret of vault key index, which a
// version written under that key was cut with (SPEC.md §11.3).
func (w *Vault) chunkingSecret(index uint32) ([]byte, error) {
	k, ok := w.keys.Get(index)
	if !ok {
		return nil, fmt.Errorf("%w: key %d", ErrNoKey, index)
	}
	return ChunkingSecret(k), nil
}

// ContentID identifies a file's content by its chunks: two files with
// the same ContentID in one vault have the same bytes.
func ContentID(blocks []Block) crypto.Digest {
	parts := make([][]byte, 0, 2*len(blocks))
	for _, b := range blocks {
		parts = append(parts, b.Digest[:], u64(b.Size))
	}
	return crypto.LabeledSum("content-id", parts...)
}

// LocalContentID computes, without uploading anything, the ContentID a
// local file has when cut as a version written under vault key index is
// (Version.KeyIndex): content ids compare only under one key, since each
// key has its own chunking secret.
func (w *Vault) LocalContentID(r io.Reader, index uint32) (crypto.Digest, uint64, error) {
	secret, err := w.chunkingSecret(index)
	if err != nil {
		return crypto.Digest{}, 0, err
	}
	c := NewChunker(secret, r)
	var blocks []Block
	var size uint64
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			return ContentID(blocks), size, nil
		}
		if err != nil {
			return crypto.Digest{}, 0, err
		}
		blocks = append(blocks, Block{Digest: crypto.Sum(chunk), Size: uint64(len(chunk))})
		size += uint64(len(chunk))
	}
}

// Progress is told how many bytes were transferred so far.
type Progress func(done int64)

// Put stores the content of r as the file at p, creating it or adding a
// new version. The content is streamed block by block, a few blocks in
// flight at a time: memory stays flat whatever the size. If someone else
// wrote the same file meanwhile, ErrWriteConflict and nothing is changed.
func (w *Vault) Put(ctx context.Context, p string, r io.Reader, progress Progress) (Version, error) {
	vs, err := w.PutFiles(ctx, []PutItem{{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }, Progress: progress}})
	if err != nil {
		return Version{}, err
	}
	return vs[0], nil
}

// PutItem is one file of a PutFiles batch.
type PutItem struct {
	Path     string
	Open     func() (io.ReadCloser, error)
	Progress Progress
}

// PutFiles uploads several files and commits them in one vault entry, so
// that a folder receiving many files is written once per batch, not once
// per file. Either every file of the batch becomes visible or none does.
func (w *Vault) PutFiles(ctx context.Context, items []PutItem) ([]Version, error) {
	if err := w.writable(); err != nil {
		return nil, err
	}
	if err := w.Sync(ctx); err != nil {
		return nil, err
	}
	type staged struct {
		names    []string
		replaces *Version // the version replaced: a later one means a concurrent writer
		blocks   []Block
		size     uint64
		id       string
	}
	files := make([]*staged, len(items))
	for i, it := range items {
		names, err := SplitPath(it.Path)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("/: %w", ErrIsFolder)
		}
		f := &staged{names: names}
		if cur, err := (view{log: w.log}).resolve(names); err == nil {
			if cur.Manifest.Folder {
				return nil, fmt.Errorf("%s: %w", it.Path, ErrIsFolder)
			}
			f.replaces = &cur
		}
		r, err := it.Open()
		if err != nil {
			return nil, err
		}
		reuse := map[blockKey]Block{}
		if f.replaces != nil {
			for _, b := range f.replaces.Manifest.Blocks {
				reuse[blockKey{b.Digest, b.Size}] = b
			}
		}
		// Blocks an interrupted upload of this path already sent.
		journal, resumes := w.remote.(UploadJournal)
		if resumes {
			for _, b := range journal.Uploaded(w.vault.ID, it.Path) {
				reuse[blockKey{b.Digest, b.Size}] = b
			}
		}
		f.blocks, f.size, err = w.upload(ctx, r, reuse, func(b Block) {
			if resumes {
				journal.BlockSent(w.vault.ID, it.Path, b)
			}
		}, it.Progress)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Path, err)
		}
		files[i] = f
	}
	err := w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		var out []*Manifest
		folders := map[string]*Manifest{} // copies, written once if changed
		changed := map[string]bool{}
		var order []string
		for i, f := range files {
			parent, err := folderFor(l, f.names[:len(f.names)-1])
			if err != nil {
				return nil, err
			}
			if seen, ok := folders[parent.ID]; ok {
				parent = seen
			} else {
				folders[parent.ID] = parent
				order = append(order, parent.ID)
			}
			p := items[i].Path
			name := f.names[len(f.names)-1]
			child, exists := parent.Child(name)
			switch {
			case exists && child.Folder:
				return nil, fmt.Errorf("%s: %w", p, ErrIsFolder)
			case exists != (f.replaces != nil):
				return nil, fmt.Errorf("%s: %w", p, ErrWriteConflict)
			case exists:
				if latest, _ := l.Latest(child.ID); latest.Version != f.replaces.Version || child.ID != f.replaces.Manifest.ID {
					return nil, fmt.Errorf("%s: %w", p, ErrWriteConflict)
				}
				f.id = child.ID
			default:
				f.id = certificate.NewID()
				parent.Children = append(parent.Children, ChildEntry{Name: name, ID: f.id})
				sortChildren(parent.Children)
				changed[parent.ID] = true
			}
			out = append(out, &Manifest{ID: f.id, Parent: parent.ID, Size: f.size, Blocks: f.blocks})
		}
		for _, id := range order {
			if changed[id] {
				out = append(out, folders[id])
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	vs := make([]Version, len(files))
	for i, f := range files {
		vs[i], _ = w.log.Latest(f.id)
		if journal, ok := w.remote.(UploadJournal); ok {
			journal.UploadDone(w.vault.ID, items[i].Path)
		}
	}
	return vs, nil
}

// upload cuts r into blocks, encrypts each with its own random key and
// uploads them with a few in flight. Memory: about parallel+1 blocks.
func (w *Vault) upload(ctx context.Context, r io.Reader, reuse map[blockKey]Block, sent func(Block), progress Progress) ([]Block, uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		i     int
		plain []byte
		off   uint64
	}
	jobs := make(chan job)
	var (
		mu      sync.Mutex
		blocks  []Block
		done    int64
		firstEr error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstEr == nil {
			firstEr = err
			cancel()
		}
		mu.Unlock()
	}
	for range w.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				b := Block{ID: certificate.NewID(), Key: crypto.NewSecretKey(), Digest: crypto.Sum(j.plain), Offset: j.off, Size: uint64(len(j.plain))}
				ct := sealBlock(w.org.ID, w.vault.ID, b, j.plain)
				if err := w.remote.PutBlock(ctx, w.vault.ID, b.ID, ct); err != nil {
					fail(fmt.Errorf("uploading block %d: %w", j.i, err))
					continue
				}
				mu.Lock()
				for len(blocks) <= j.i {
					blocks = append(blocks, Block{})
				}
				blocks[j.i] = b
				done += int64(b.Size)
				d := done
				mu.Unlock()
				sent(b)
				if progress != nil {
					progress(d)
				}
			}
		}()
	}
	// Cut with the newest key's secret, which commit encrypts under: a
	// member removed at the last rotation can't predict the boundaries.
	index, _ := w.keys.Newest()
	secret, err := w.chunkingSecret(index)
	if err != nil {
		return nil, 0, err
	}
	var size uint64
	var readErr error
	chunker := NewChunker(secret, r)
	for i := 0; ; i++ {
		chunk, err := chunker.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("reading: %w", err)
			break
		}
		// A block the previous version already has is not sent again.
		if b, ok := reused(reuse, chunk); ok {
			b.Offset = size
			mu.Lock()
			for len(blocks) <= i {
				blocks = append(blocks, Block{})
			}
			blocks[i] = b
			done += int64(b.Size)
			mu.Unlock()
			size += b.Size
			continue
		}
		select {
		case jobs <- job{i, chunk, size}:
		case <-ctx.Done():
		}
		size += uint64(len(chunk))
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return nil, 0, readErr
	}
	if firstEr != nil {
		return nil, 0, firstEr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return blocks, size, nil
}

// Get writes the file at p (newest, or as of at) to dest. It writes to a
// temporary file beside dest and renames it only once every block matched
// its signed digest: a tampered or partial file never appears.
func (w *Vault) Get(ctx context.Context, p string, at time.Time, dest string, progress Progress) (Version, error) {
	ver, err := w.Stat(p, at)
	if err != nil {
		return Version{}, err
	}
	if ver.Manifest.Folder {
		return Version{}, fmt.Errorf("%s: %w", p, ErrIsFolder)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".coffre-*")
	if err != nil {
		return Version{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := w.download(ctx, ver.Manifest, tmp, progress); err != nil {
		return Version{}, err
	}
	if err := tmp.Sync(); err != nil {
		return Version{}, err
	}
	if err := tmp.Close(); err != nil {
		return Version{}, err
	}
	return ver, os.Rename(tmp.Name(), dest)
}

// download fetches and checks a file's blocks with a few in flight.
func (w *Vault) download(ctx context.Context, m *Manifest, out io.WriterAt, progress Progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan Block)
	var (
		mu      sync.Mutex
		done    int64
		firstEr error
		wg      sync.WaitGroup
	)
	for range w.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				if err := w.fetchBlock(ctx, b, out); err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = err
						cancel()
					}
					mu.Unlock()
					continue
				}
				mu.Lock()
				done += int64(b.Size)
				d := done
				mu.Unlock()
				if progress != nil {
					progress(d)
				}
			}
		}()
	}
	for _, b := range m.Blocks {
		select {
		case jobs <- b:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if firstEr != nil {
		return firstEr
	}
	return ctx.Err()
}

func (w *Vault) fetchBlock(ctx context.Context, b Block, out io.WriterAt) error {
	plain, err := w.openBlock(ctx, b)
	if err != nil {
		return err
	}
	_, err = out.WriteAt(plain, int64(b.Offset))
	return err
}

// WriteTo writes the file at p (newest, or as of at) to out, in order,
// each block once it matched its signed digest, with a few fetched ahead.
// Nothing is staged anywhere else; a failure leaves out with a verified
// prefix of the file and returns the error.
func (w *Vault) WriteTo(ctx context.Context, p string, at time.Time, out io.Writer, progress Progress) (Version, error) {
	ver, err := w.Stat(p, at)
	if err != nil {
		return Version{}, err
	}
	if ver.Manifest.Folder {
		return Version{}, fmt.Errorf("%s: %w", p, ErrIsFolder)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetched struct {
		plain []byte
		err   error
	}
	// Each block's result comes through its own channel, queued in file
	// order; the queue's capacity bounds the blocks in flight.
	queue := make(chan chan fetched, w.parallel)
	go func() {
		defer close(queue)
		for _, b := range ver.Manifest.Blocks {
			ch := make(chan fetched, 1)
			select {
			case queue <- ch:
			case <-ctx.Done():
				return
			}
			go func() {
				plain, err := w.openBlock(ctx, b)
				ch <- fetched{plain, err}
			}()
		}
	}()
	var done int64
	for ch := range queue {
		f := <-ch
		if f.err != nil {
			return Version{}, f.err
		}
		if _, err := out.Write(f.plain); err != nil {
			return Version{}, err
		}
		if done += int64(len(f.plain)); progress != nil {
			progress(done)
		}
	}
	return ver, ctx.Err()
}

// openBlock fetches a block and checks it against its signed digest.
func (w *Vault) openBlock(ctx context.Context, b Block) ([]byte, error) {
	ct, err := w.remote.GetBlock(ctx, w.vault.ID, b.ID)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", b.ID, err)
	}
	plain, err := openBlock(w.org.ID, w.vault.ID, b, ct)
	cache, caches := w.remote.(BlockCache)
	if err != nil {
		if caches {
			cache.BlockRejected(w.vault.ID, b.ID)
		}
		return nil, fmt.Errorf("block %s: %w", b.ID, ErrBadBlock)
	}
	if caches {
		cache.BlockVerified(w.vault.ID, b.ID, ct)
	}
	return plain, nil
}

// Checkpoint writes the root folder again, unchanged, so that the vault log
// refers to the organisation log as of now: after a rotation, an entry that
// claims an older organisation position (a removed member's, back-dated
// with the server's help) can no longer follow it (SPEC.md §11.5).
func (w *Vault) Checkpoint(ctx context.Context) error {
	return w.commit(ctx, func(l *Log) ([]*Manifest, error) {
		root, err := folderFor(l, nil)
		if err != nil {
			return nil, err
		}
		return []*Manifest{root}, nil
	})
}

// NeedsCheckpoint reports whether the vault log lacks the checkpoint that
// follows its newest key's rotation: no entry claims an organisation
// position at or after it (SPEC.md §11.5, §11.7).
func (w *Vault) NeedsCheckpoint() bool {
	newest := w.vault.Keys[len(w.vault.Keys)-1]
	return newest.Index > 1 && w.log.tail.OrganisationPosition < newest.Position
}

// Walk calls fn for every file and folder under the root, parents before
// children, with its vault path ("/a/b") and newest version.
func (w *Vault) Walk(fn func(p string, v Version) error) error {
	v := view{log: w.log}
	var walk func(p string, dir Version) error
	walk = func(p string, dir Version) error {
		for _, c := range dir.Manifest.Children {
			child, ok := v.get(c.ID)
			if !ok || child.Manifest.Parent != dir.Manifest.ID || child.Manifest.Folder != c.Folder {
				return fmt.Errorf("%w: %s is not where its folder says", ErrBadManifest, path.Join(p, c.Name))
			}
			cp := path.Join(p, c.Name)
			if err := fn(cp, child); err != nil {
				return err
			}
			if child.Manifest.Folder {
				if err := walk(cp, child); err != nil {
					return err
				}
			}
		}
		return nil
	}
	root, err := v.resolve(nil)
	if err != nil {
		return err
	}
	return walk("/", root)
}

// reused finds a chunk among the blocks a new version may reuse (hashing it
// only when there are some).
func reused(reuse map[blockKey]Block, chunk []byte) (Block, bool) {
	if len(reuse) == 0 {
		return Block{}, false
	}
	b, ok := reuse[blockKey{crypto.Sum(chunk), uint64(len(chunk))}]
	return b, ok
}
