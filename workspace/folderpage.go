package workspace

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
)

// Folder pages (SPEC.md §11.3.1): a folder of more than PageEntries
// entries is written as format 3, its entries in pages by name range,
// each page a block of its own; the signed folder manifest lists every
// page by id, key, digest and lowest name, so a batch that changes k
// entries rewrites the pages their names fall in plus the page list, and
// a lookup reads one page.

// PageEntries is the number of entries a page is sized for: a folder of
// more is written in pages of about this many entries (a page is split
// once it holds more than twice as many).
const PageEntries = 256

// pagedAbove is the number of entries above which a folder is written in
// pages: PageEntries, changed only by a test comparing with format 2.
var pagedAbove = PageEntries

// maxPages bounds a page list a hostile writer could make huge.
const maxPages = 1 << 16

// PageRef is one page of a folder in pages, as its signed manifest lists
// it: the block that holds it (ID, Key, Digest; Size is unused, a page's
// size is read from its padding), how many entries it holds, and the
// lowest name it may hold ("" for the first page).
type PageRef struct {
	Block
	Entries uint32
	Low     string
}

// pageOf is the index of the page a name belongs in: the last whose low
// is at or below it.
func pageOf(name string, refs []PageRef) int {
	return sort.Search(len(refs), func(i int) bool { return refs[i].Low > name }) - 1
}

// pageRefs reads a format-3 folder's page list and checks what can be
// checked without the pages: 1 to maxPages refs, each well formed, lows
// increasing from "", entry counts adding up to the folder's. compact: as
// written in a manifest batch, page ids raw (encodeKind).
func pageRefs(folderID string, f *coffrev1.FolderManifest, compact bool) ([]PageRef, error) {
	bad := func(why string, args ...any) error {
		return fmt.Errorf("%w: folder %s: %s", ErrBadManifest, folderID, fmt.Sprintf(why, args...))
	}
	count := f.GetPageCount()
	switch {
	case len(f.GetEntries()) != 0:
		return nil, bad("a folder in pages lists entries")
	case count == 0 || count > maxPages:
		return nil, bad("%d pages, not 1 to %d", count, maxPages)
	case len(f.GetPages()) != int(count):
		return nil, bad("%d page refs for %d pages", len(f.GetPages()), count)
	}
	refs := make([]PageRef, 0, count)
	ids := make(map[string]bool, count)
	var sum uint64
	for i, r := range f.GetPages() {
		key, err := crypto.ParseSecretKey(r.GetKey())
		id, ok := r.GetId(), true
		if compact || len(r.GetRawId()) != 0 {
			id, ok = parseID(r.GetId(), r.GetRawId(), compact)
		}
		if err != nil || !ok || len(r.GetDigest()) != len(crypto.Digest{}) || id == "" || ids[id] {
			return nil, bad("a bad page ref")
		}
		if (i == 0) != (r.GetLow() == "") || i > 0 && (ValidName(r.GetLow()) != nil || r.GetLow() <= refs[i-1].Low) {
			return nil, bad("page %d's lowest name is out of order", i)
		}
		ids[id] = true
		ref := PageRef{Block: Block{ID: id, Key: key}, Entries: r.GetEntryCount(), Low: r.GetLow()}
		copy(ref.Digest[:], r.GetDigest())
		refs = append(refs, ref)
		sum += uint64(r.GetEntryCount())
	}
	if sum != f.GetEntryCount() {
		return nil, bad("its pages hold %d entries, not %d", sum, f.GetEntryCount())
	}
	return refs, nil
}

// sealPage serialises and encrypts a page of folder (entries sorted by
// name, ids raw: a compact page) under a fresh key, as a block of its
// own: the server sees a padded block. A page's plaintext never ends in a
// zero byte (its last field is the compact flag, true), so its size is
// what is left of it without the padding. The ref's Low is the caller's.
func sealPage(orgID, vaultID, folderID string, entries []ChildEntry) (PageRef, []byte, error) {
	// Pages are compact since entry format 2 (a test writes the older form).
	compact := entryFormat != vaultlog.FormatSeparate
	w := &coffrev1.FolderPage{FolderId: folderID, Compact: compact}
	for _, c := range entries {
		e := &coffrev1.FolderEntry{Name: c.Name, Folder: c.Folder}
		e.Id, e.RawId = compactID(c.ID, compact)
		w.Entries = append(w.Entries, e)
	}
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(w)
	if err != nil {
		return PageRef{}, nil, err
	}
	if len(plain) == 0 || plain[len(plain)-1] == 0 {
		return PageRef{}, nil, fmt.Errorf("folder %s: a page ends in a zero byte", folderID)
	}
	b := Block{ID: certificate.NewID(), Key: crypto.NewSecretKey(), Digest: crypto.Sum(plain), Size: uint64(len(plain))}
	return PageRef{Block: b, Entries: uint32(len(entries))}, sealBlock(orgID, vaultID, b, plain), nil
}

// openPage decrypts page index of refs (in place) and checks it is the
// one the signed folder manifest lists there: its digest (a page from an
// older version or another folder has another: SECURITY.md A60), its
// folder, its entry count, and that its names are valid, increasing, and
// in its range, from its low up to the next page's. A compact page (all
// written since vault entry format 2) carries ids raw; a page written
// before, which a folder may still keep, as text.
func openPage(orgID, vaultID, folderID string, refs []PageRef, index int, ciphertext []byte) ([]ChildEntry, error) {
	ref := refs[index]
	refused := fmt.Errorf("%w: folder %s page %d is not the page its manifest lists", ErrBadManifest, folderID, index)
	padded, err := ref.Key.DecryptInPlace(blockAAD(orgID, vaultID, ref.ID), ciphertext)
	if err != nil {
		return nil, refused
	}
	plain := bytes.TrimRight(padded, "\x00")
	if uint64(len(padded)) != PaddedSize(uint64(len(plain))) || crypto.Sum(plain) != ref.Digest {
		return nil, refused
	}
	var p coffrev1.FolderPage
	if err := proto.Unmarshal(plain, &p); err != nil || p.GetFolderId() != folderID || uint32(len(p.GetEntries())) != ref.Entries {
		return nil, refused
	}
	out := make([]ChildEntry, 0, len(p.GetEntries()))
	for i, e := range p.GetEntries() {
		name := e.GetName()
		if ValidName(name) != nil || name < ref.Low || index+1 < len(refs) && name >= refs[index+1].Low ||
			i > 0 && name <= out[i-1].Name {
			return nil, fmt.Errorf("%w: folder %s page %d holds a name out of its place", ErrBadManifest, folderID, index)
		}
		id, ok := e.GetId(), len(e.GetRawId()) == 0
		if p.GetCompact() {
			id, ok = parseID(e.GetId(), e.GetRawId(), true)
		}
		if !ok {
			return nil, fmt.Errorf("%w: folder %s page %d holds a bad child id", ErrBadManifest, folderID, index)
		}
		out = append(out, ChildEntry{Name: name, ID: id, Folder: e.GetFolder()})
	}
	return out, nil
}

// pageReader fetches the pages of folders, checks them (openPage) and
// keeps those that passed, in memory: a page is immutable under its ref.
type pageReader struct {
	orgID, vaultID string
	blocks         Blocks
	cache          BlockCache // nil: none
	parallel       int

	mu     sync.Mutex
	opened map[pageKey][]ChildEntry
	held   int // entries in opened
}

// pageKey is a page at its place: a page is checked against all of it.
type pageKey struct {
	id, folder string
	digest     crypto.Digest
	key        crypto.Digest // a hash of the page's key
	entries    uint32
	low, next  string // next: the next page's low, "" for the last page
}

// maxHeldEntries bounds the entries the reader keeps in memory.
const maxHeldEntries = 1 << 20

func keyOf(folderID string, refs []PageRef, index int) pageKey {
	ref := refs[index]
	k := pageKey{id: ref.ID, folder: folderID, digest: ref.Digest, key: crypto.Sum(ref.Key.Bytes()), entries: ref.Entries, low: ref.Low}
	if index+1 < len(refs) {
		k.next = refs[index+1].Low
	}
	return k
}

func (r *pageReader) remember(k pageKey, entries []ChildEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opened == nil || r.held+len(entries) > maxHeldEntries {
		r.opened, r.held = map[pageKey][]ChildEntry{}, 0
	}
	if _, ok := r.opened[k]; !ok {
		r.opened[k] = entries
		r.held += len(entries)
	}
}

// page returns page index of a folder's page list, fetched and checked;
// the caller must not modify it.
func (r *pageReader) page(ctx context.Context, folderID string, refs []PageRef, index int) ([]ChildEntry, error) {
	if entries, ok := r.openedPage(keyOf(folderID, refs, index)); ok {
		return entries, nil
	}
	ct, err := r.blocks.GetBlock(ctx, r.vaultID, refs[index].ID)
	if err != nil {
		return nil, fmt.Errorf("folder %s page %d: %w", folderID, index, err)
	}
	return r.open(folderID, refs, index, ct)
}

// openedPage returns a page already opened and checked at its place.
func (r *pageReader) openedPage(k pageKey) ([]ChildEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, ok := r.opened[k]
	return entries, ok
}

// open checks page index's ciphertext ct (openPage), tells the block
// cache whether it passed, and keeps its entries.
func (r *pageReader) open(folderID string, refs []PageRef, index int, ct []byte) ([]ChildEntry, error) {
	id := refs[index].ID
	opened := ct
	if r.cache != nil {
		opened = bytes.Clone(ct) // the cache keeps the ciphertext; openPage overwrites what it opens
	}
	entries, err := openPage(r.orgID, r.vaultID, folderID, refs, index, opened)
	if err != nil {
		if r.cache != nil {
			r.cache.BlockRejected(r.vaultID, id)
		}
		return nil, err
	}
	if r.cache != nil {
		r.cache.BlockVerified(r.vaultID, id, ct)
	}
	r.remember(keyOf(folderID, refs, index), entries)
	return entries, nil
}

// fetchAll fills pages with every page of m, those not yet opened asked
// with one GetBlocks (SPEC.md §11.3.1), each checked as page checks it:
// a page the server leaves out or answers with another block refuses the
// listing (SECURITY.md A60, A61).
func (r *pageReader) fetchAll(ctx context.Context, f BlockFetcher, m *Manifest, pages [][]ChildEntry) error {
	var want []int
	var ids []string
	for i := range m.Pages {
		if entries, ok := r.openedPage(keyOf(m.ID, m.Pages, i)); ok {
			pages[i] = entries
			continue
		}
		want = append(want, i)
		ids = append(ids, m.Pages[i].ID)
	}
	if len(ids) == 0 {
		return nil
	}
	cts, err := f.GetBlocks(ctx, r.vaultID, ids)
	if err != nil {
		return fmt.Errorf("folder %s pages: %w", m.ID, err)
	}
	if len(cts) != len(ids) {
		return fmt.Errorf("%w: folder %s: %d pages fetched for %d", ErrBadManifest, m.ID, len(cts), len(ids))
	}
	for j, i := range want {
		if pages[i], err = r.open(m.ID, m.Pages, i, cts[j]); err != nil {
			return err
		}
	}
	return nil
}

// all returns every child of a folder in pages, sorted by name: every
// page fetched (with one GetBlocks when the Blocks can, else a few at
// once) and checked, and across them each child id
// once (as in format 2; names are distinct as pages' ranges are). A page
// missing or refused refuses the listing: it is complete or an error
// (SECURITY.md A61).
func (r *pageReader) all(ctx context.Context, m *Manifest) ([]ChildEntry, error) {
	pages := make([][]ChildEntry, len(m.Pages))
	if f, ok := r.blocks.(BlockFetcher); ok {
		if err := r.fetchAll(ctx, f, m, pages); err != nil {
			return nil, err
		}
	} else if err := r.fetchEach(ctx, m, pages); err != nil {
		return nil, err
	}
	out := make([]ChildEntry, 0, m.entryCount())
	ids := make(map[string]bool, m.entryCount())
	for _, p := range pages {
		for _, c := range p {
			if ids[c.ID] {
				return nil, fmt.Errorf("%w: folder %s lists child %s twice", ErrBadManifest, m.ID, c.ID)
			}
			ids[c.ID] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// fetchEach fills pages with every page of m, a few fetched at once.
func (r *pageReader) fetchEach(ctx context.Context, m *Manifest, pages [][]ChildEntry) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(m.Pages))
	sem := make(chan struct{}, max(r.parallel, 1))
	var wg sync.WaitGroup
	for i := range m.Pages {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if pages[i], errs[i] = r.page(ctx, m.ID, m.Pages, i); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// pageFolders writes in pages each folder of manifests whose children
// were read (Pages nil) and number more than PageEntries (SPEC.md
// §11.3.1), against the folder's newest version in l: the children fall
// into its pages' ranges; a page whose entries are unchanged keeps its
// ref, and so does one of at least PageEntries/2 entries to which names
// were only added after its last (they go to new pages); one emptied is
// dropped, one grown past 2×PageEntries is split into pages of
// PageEntries, any other changed one is written again. New pages
// are stored here, before the entry that names them. A folder of at most
// PageEntries entries is written whole (format 2).
func (w *Vault) pageFolders(ctx context.Context, l *Log, manifests []*Manifest) error {
	var sealed []BlockData
	for _, m := range manifests {
		if !m.Folder || m.Pages != nil || len(m.Children) <= pagedAbove {
			continue
		}
		var old []PageRef
		if prev, ok := l.Latest(m.ID); ok {
			old = prev.Manifest.Pages
		}
		sortChildren(m.Children)
		var refs []PageRef
		write := func(entries []ChildEntry) error {
			for len(entries) > 0 {
				n := len(entries)
				if n > 2*PageEntries {
					n = PageEntries
				}
				ref, ct, err := sealPage(w.org.ID, w.vault.ID, m.ID, entries[:n])
				if err != nil {
					return err
				}
				ref.Low = entries[0].Name
				refs = append(refs, ref)
				sealed = append(sealed, BlockData{ID: ref.ID, Data: ct})
				entries = entries[n:]
			}
			return nil
		}
		rest := m.Children
		for i := range old {
			n := len(rest)
			if i+1 < len(old) {
				n = sort.Search(len(rest), func(j int) bool { return rest[j].Name >= old[i+1].Low })
			}
			group := rest[:n]
			rest = rest[n:]
			if len(group) >= int(old[i].Entries) && len(group) > 0 {
				prev, err := w.pages.page(ctx, m.ID, old, i)
				if err != nil {
					return err
				}
				// Unchanged, or names added after its last one (a folder
				// filled in name order) to a page half full or more: it
				// stays, the new names go to pages of their own.
				if slices.Equal(prev, group[:len(prev)]) && (len(prev) == len(group) || len(prev) >= PageEntries/2) {
					refs = append(refs, old[i])
					if err := write(group[len(prev):]); err != nil {
						return err
					}
					continue
				}
			}
			if err := write(group); err != nil {
				return err
			}
		}
		if err := write(rest); err != nil { // no old pages: the folder's first
			return err
		}
		refs[0].Low = ""
		for i := range refs {
			w.pages.remember(keyOf(m.ID, refs, i), pageOfChildren(m.Children, refs, i))
		}
		m.Pages, m.Children = refs, nil
	}
	batch := w.newBlockBatch()
	for _, b := range sealed {
		var err error
		if batch != nil && len(b.Data) <= batchBlockMax {
			err = batch.add(ctx, b.ID, b.Data)
		} else {
			err = w.blocks.PutBlock(ctx, w.vault.ID, b.ID, b.Data)
		}
		if err != nil {
			return fmt.Errorf("storing folder pages: %w", err)
		}
	}
	if err := batch.flush(ctx); err != nil {
		return fmt.Errorf("storing folder pages: %w", err)
	}
	return nil
}

// pageOfChildren is the slice of sorted children that page index of refs
// holds.
func pageOfChildren(children []ChildEntry, refs []PageRef, index int) []ChildEntry {
	from := sort.Search(len(children), func(j int) bool { return children[j].Name >= refs[index].Low })
	to := len(children)
	if index+1 < len(refs) {
		to = sort.Search(len(children), func(j int) bool { return children[j].Name >= refs[index+1].Low })
	}
	return children[from:to:to]
}
