package workspace

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/vaultlog"
)

// Vault is one vault opened by a member: its verified state, its keys and
// the operations on its files.
type Vault struct {
	org      *certificate.Organisation
	vault    *certificate.Vault
	keys     *Keys
	log      *Log // replaced by each Sync that verified something new
	remote   Remote
	blocks   Blocks
	cache    BlockCache    // nil: none
	journal  UploadJournal // nil: none
	writer   Writer
	persist  Persist
	now      func() time.Time
	parallel int
	pages    *pageReader

	// log is replaced, never changed in place, by Sync and commit on the
	// goroutine that runs them; logMu orders that with UploadFiles, which
	// may run on another goroutine meanwhile and reads it with verified.
	logMu sync.Mutex
	// secrets caches the chunking secret of each key index (derived once,
	// not for every file): uint32 → []byte.
	secrets sync.Map
}

// Open returns a vault over the verified state in d. A required field
// left nil is a caller's bug.
func Open(d Deps) *Vault {
	if d.Org == nil || d.Vault == nil || d.Keys == nil || d.Log == nil || d.Remote == nil || d.Blocks == nil || d.Persist == nil {
		panic("workspace: internal error: Open without its verified state, Remote, Blocks or Persist")
	}
	w := &Vault{org: d.Org, vault: d.Vault, keys: d.Keys, log: d.Log, remote: d.Remote, blocks: d.Blocks,
		cache: d.Cache, journal: d.Journal, writer: d.Writer, persist: d.Persist, now: d.Clock, parallel: d.Parallel}
	if w.now == nil {
		w.now = time.Now
	}
	if w.parallel <= 0 {
		w.parallel = 4
	}
	w.pages = &pageReader{orgID: d.Org.ID, vaultID: d.Vault.ID, blocks: d.Blocks, cache: d.Cache, parallel: w.parallel}
	return w
}

// Log returns the verified state.
func (w *Vault) Log() *Log { return w.log }

// Sync fetches the entries after the verified head, verifies them and
// stores them. A log shorter than the verified head is a rollback; another
// entry at the verified head, or entries that don't extend it, are a fork;
// nothing is stored then.
func (w *Vault) Sync(ctx context.Context) error { return w.sync(ctx, false) }

// syncToWrite is Sync before a write: the server's signed heads come with
// the log, for the write's ConfirmFresh (SPEC.md §4.4).
func (w *Vault) syncToWrite(ctx context.Context) error { return w.sync(ctx, true) }

// SyncToCheckpoint is Sync for a caller about to write the checkpoint
// (PrepareVault): the server's signed heads come with the log, and
// Checkpoint then confirms with them instead of reading the log again.
func (w *Vault) SyncToCheckpoint(ctx context.Context) error { return w.syncToWrite(ctx) }

func (w *Vault) sync(ctx context.Context, signed bool) error {
	// A device that verified nothing holds no folder page either: it asks
	// for them, and the answer that reaches the head brings them.
	fresh := w.log.Head.Position == 0
	for {
		mine := w.log.Head.Position
		entries, head, err := w.remote.Read(ctx, w.vault.ID, max(mine, 1), fresh, signed)
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
		w.setLog(next)
		if w.log.Head.Position >= head {
			return nil
		}
	}
}

// change is what a write computes against the newest state: the new
// manifests to commit. It is recomputed when the log moved.
type change func(l *Log) ([]*Manifest, error)

// commit signs the manifests a change computes as one vault entry and
// appends it, reading the log again and recomputing when someone else
// wrote first (SPEC.md §11.5).
func (w *Vault) commit(ctx context.Context, ch change) error {
	return w.commitSynced(ctx, ch, false)
}

// commitSynced is commit for a caller that has just synced: its first
// attempt computes against the log as it is, and the signed head that
// ConfirmFresh checks tells whether anyone wrote since (then it reads the
// log again and recomputes, as after a refused append). The round trip of
// a Sync that would find nothing new is saved.
func (w *Vault) commitSynced(ctx context.Context, ch change, synced bool) error {
	if err := w.writable(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 || !synced {
			if err := w.syncToWrite(ctx); err != nil {
				return err
			}
		}
		manifests, err := ch(w.log)
		if err != nil {
			return err
		}
		if len(manifests) == 0 {
			return nil // someone else made the change meanwhile (MkdirAll)
		}
		if err := w.pageFolders(ctx, w.log, manifests); err != nil {
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
		now := w.now().UTC()
		if now.Before(w.log.tail.Time) {
			now = w.log.tail.Time
		}
		e := &vaultlog.Entry{
			OrganisationID: w.org.ID, VaultID: w.vault.ID, Author: w.writer.DeviceID, Time: now,
			Position: w.log.Head.Position + 1, PreviousHash: w.log.Head.Hash,
			OrganisationPosition: w.org.Head.Position, OrganisationHash: w.org.Head.Hash, KeyIndex: index,
		}
		if err := sealEntry(w.org.ID, w.vault.ID, w.log, e, key, manifests); err != nil {
			return err
		}
		data, err := vaultlog.SignEntry(w.writer.Key, e)
		if err != nil {
			return err
		}
		blocks, pages := referencedBlocks(manifests)
		err = w.remote.Append(ctx, w.vault.ID, data, blocks, pages)
		if errors.Is(err, certificate.ErrConflict) && attempt < 20 {
			if err := w.syncToWrite(ctx); err != nil {
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
		return w.applyOwn(e.Position, data)
	}
}

// applyOwn verifies and stores the entry this device just appended, as
// Sync would after reading it back: the server accepted it at position,
// right after the verified head it extends, so there is nothing to read.
// A server that claimed to store it and did not is caught by the next
// Sync, which finds another entry at the verified head (a fork).
func (w *Vault) applyOwn(position uint64, data []byte) error {
	next := w.log.Clone()
	if _, err := next.Apply(w.org, w.keys, position, data); err != nil {
		return err
	}
	if err := w.persist(w.vault.ID, []RemoteEntry{{Position: position, Data: data}}, next.Head); err != nil {
		return err
	}
	w.setLog(next)
	return nil
}

// setLog replaces the verified state (on the goroutine that syncs and
// commits).
func (w *Vault) setLog(l *Log) {
	w.logMu.Lock()
	w.log = l
	w.logMu.Unlock()
}

// verified returns the verified state as it is now, for a goroutine other
// than the one that syncs and commits (UploadFiles).
func (w *Vault) verified() *Log {
	w.logMu.Lock()
	defer w.logMu.Unlock()
	return w.log
}

// entryFormat is the entry format commit writes: vaultlog.FormatVersion,
// changed only by tests that write entries as earlier versions did.
var entryFormat uint32 = vaultlog.FormatVersion

// sealEntry adds the manifests to e, each at its next version: as one
// batch (format 2), or each in its own write (format 1, entryFormat).
func sealEntry(orgID, vaultID string, l *Log, e *vaultlog.Entry, key crypto.SecretKey, manifests []*Manifest) error {
	e.Format = entryFormat
	for _, m := range manifests {
		m.Updated = e.Time
		wr := vaultlog.Write{ManifestID: m.ID, Version: l.NextVersion(m.ID)}
		if e.Format == vaultlog.FormatSeparate {
			ct, err := encryptManifest(orgID, vaultID, wr.Version, e.KeyIndex, key, m)
			if err != nil {
				return err
			}
			wr.Ciphertext = ct
		}
		e.Writes = append(e.Writes, wr)
	}
	if e.Format == vaultlog.FormatSeparate {
		return nil
	}
	var err error
	e.Manifests, err = encryptBatch(orgID, vaultID, e, key, manifests)
	return err
}

// referencedBlocks is every block the manifests reference, each once: a
// file's blocks and a folder's pages (SPEC.md §11.3.1), what an entry
// writing them declares to the server (SPEC.md §7.5); and the pages of
// each folder in pages, which it declares as such. A new version reusing
// blocks or pages of an older one declares them again.
func referencedBlocks(manifests []*Manifest) (ids []string, pages []FolderPages) {
	ids = []string{}
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, m := range manifests {
		for _, b := range m.Blocks {
			add(b.ID)
		}
		if len(m.Pages) == 0 {
			continue
		}
		f := FolderPages{Folder: m.ID, Pages: make([]string, len(m.Pages))}
		for i, p := range m.Pages {
			add(p.ID)
			f.Pages[i] = p.ID
		}
		pages = append(pages, f)
	}
	return ids, pages
}

// writable checks, on the client, what the server checks too: a write
// role, a vault not archived, and no member gone since the newest key.
func (w *Vault) writable() error {
	now := w.now()
	switch {
	case w.vault.Archived:
		return ErrArchived
	case !w.org.RoleOf(w.vault, w.writer.UserID, now).CanWrite():
		return ErrReadOnly
	case w.org.NeedsRotation(w.vault, now):
		return vaultlog.ErrRotationPending
	}
	if index, _ := w.keys.Newest(); index != w.vault.KeyIndex() {
		return fmt.Errorf("%w: this device does not hold the newest key", ErrNoKey)
	}
	return nil
}

// Checkpoint writes the root folder again, unchanged, so that the vault log
// refers to the organisation log as of now: after a rotation, an entry that
// claims an older organisation position (a removed member's, back-dated
// with the server's help) can no longer follow it (SPEC.md §11.5). Its
// first attempt computes against the log as the caller's SyncToCheckpoint
// left it: the commit's freshness check says if the log moved since (or
// if the caller did not sync), and then it reads again and recomputes.
func (w *Vault) Checkpoint(ctx context.Context) error {
	return w.commitSynced(ctx, func(l *Log) ([]*Manifest, error) {
		root, err := w.view(ctx, l, time.Time{}).folderFor(nil)
		if err != nil {
			return nil, err
		}
		return []*Manifest{root}, nil
	}, true)
}

// NeedsCheckpoint reports whether the vault log lacks the checkpoint that
// follows the vault's anchor (its creation, newest rotation or newest
// grant of a key): no entry claims an organisation position at or after
// it (SPEC.md §11.5, §11.7).
func (w *Vault) NeedsCheckpoint() bool {
	return w.log.tail.OrganisationPosition < w.vault.AnchorPosition()
}
