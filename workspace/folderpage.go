package workspace

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Folder pages (SPEC.md §11.3.1): a format-3 folder's entries live in
// pages, each an encrypted object of its own; the signed folder manifest
// lists every page by id, key and digest, so a batch that changes k
// entries rewrites at most k pages plus the page list. Only the pure
// format lives here so far: the vault does not write format 3 yet.

// PageEntries is the number of entries a page is sized for: a folder
// has the smallest power-of-two page count that keeps pages at about
// this many entries.
const PageEntries = 256

// maxPages bounds a page list a hostile writer could make huge.
const maxPages = 1 << 16

// pageCount is the number of pages for a folder of n entries.
func pageCount(n int) uint32 {
	c := uint32(1)
	for int(c)*PageEntries < n && c < maxPages {
		c *= 2
	}
	return c
}

// pageOf is the page a name lives in, of count pages (a power of two):
// keyed by the name alone, so adding an entry never moves another.
func pageOf(name string, count uint32) uint32 {
	d := crypto.LabeledSum("folder-page", []byte(name))
	return binary.BigEndian.Uint32(d[:4]) & (count - 1)
}

// FolderPage is one sealed page, as the folder manifest lists it.
type FolderPage struct {
	Ref        Block // ID, Key, Digest and Size of the page's plaintext
	Entries    uint32
	Ciphertext []byte
}

// splitPages splits a folder's children into count pages.
func splitPages(children []ChildEntry, count uint32) [][]ChildEntry {
	pages := make([][]ChildEntry, count)
	for _, c := range children {
		i := pageOf(c.Name, count)
		pages[i] = append(pages[i], c)
	}
	for _, p := range pages {
		sortChildren(p)
	}
	return pages
}

// sealPage serialises and encrypts page index of folder under a fresh
// key, as a block of its own: the server sees a padded block.
func sealPage(orgID, vaultID, folderID string, index uint32, entries []ChildEntry) (FolderPage, error) {
	w := &coffrev1.FolderPage{FolderId: folderID, Index: index}
	for _, c := range entries {
		w.Entries = append(w.Entries, &coffrev1.FolderEntry{Name: c.Name, Id: c.ID, Folder: c.Folder})
	}
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(w)
	if err != nil {
		return FolderPage{}, err
	}
	b := Block{ID: certificate.NewID(), Key: crypto.NewSecretKey(), Digest: crypto.Sum(plain), Size: uint64(len(plain))}
	return FolderPage{Ref: b, Entries: uint32(len(entries)), Ciphertext: sealBlock(orgID, vaultID, b, plain)}, nil
}

// openPage decrypts a page and checks it is the one the signed folder
// manifest lists at that place: its digest (a page from an older version
// or another folder has another), its folder and index, its entry count,
// and that each entry belongs in this page (SECURITY.md A60).
func openPage(orgID, vaultID, folderID string, index, count uint32, ref Block, entries uint32, ciphertext []byte) ([]ChildEntry, error) {
	plain, err := openBlock(orgID, vaultID, ref, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: folder %s page %d is not the page its manifest lists", ErrBadManifest, folderID, index)
	}
	var p coffrev1.FolderPage
	if err := proto.Unmarshal(plain, &p); err != nil || p.GetFolderId() != folderID || p.GetIndex() != index || uint32(len(p.GetEntries())) != entries {
		return nil, fmt.Errorf("%w: folder %s page %d is not the page its manifest lists", ErrBadManifest, folderID, index)
	}
	out := make([]ChildEntry, 0, len(p.GetEntries()))
	for _, e := range p.GetEntries() {
		if ValidName(e.GetName()) != nil || pageOf(e.GetName(), count) != index {
			return nil, fmt.Errorf("%w: folder %s page %d holds an entry of another page", ErrBadManifest, folderID, index)
		}
		out = append(out, ChildEntry{Name: e.GetName(), ID: e.GetId(), Folder: e.GetFolder()})
	}
	return out, nil
}
