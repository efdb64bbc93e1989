package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
)

// ManifestFormat is the format of every file manifest and of folders of
// up to PageEntries entries. 2: block plaintexts are padded to PaddedSize
// inside their encryption (SPEC.md §11.3), which a format-1 reader would
// refuse block by block.
const ManifestFormat = 2

// PagedFormat is the format of a folder whose entries are in pages
// (SPEC.md §11.3.1); readers read formats 2 and 3.
const PagedFormat = 3

// ErrBadManifest is returned when a manifest does not decrypt or does not
// describe what its place in the log says it is (SECURITY.md A4, A11).
var ErrBadManifest = errors.New("manifest refused")

// Block is one block of a file, as its signed manifest lists it.
type Block struct {
	ID     string
	Key    crypto.SecretKey
	Digest crypto.Digest
	Offset uint64
	Size   uint64
}

// ChildEntry is one child of a folder.
type ChildEntry struct {
	Name   string
	ID     string
	Folder bool
}

// Manifest is a decrypted manifest: a folder or a file.
type Manifest struct {
	ID      string
	Parent  string
	Updated time.Time
	Folder  bool
	// For a folder: its children (format 2, or a copy to modify, read
	// from its pages), or, as read from the log for a folder in pages
	// (format 3, SPEC.md §11.3.1), its page list and no children: a
	// view reads them (view.children, view.child).
	Children []ChildEntry
	Pages    []PageRef
	// For a file.
	Size   uint64
	Blocks []Block
}

// Child returns the child with that name, of a folder whose children are
// read (not one in pages as read from the log: see view.child).
func (m *Manifest) Child(name string) (ChildEntry, bool) {
	for _, c := range m.Children {
		if c.Name == name {
			return c, true
		}
	}
	return ChildEntry{}, false
}

// RootID is the id of a vault's root folder.
func RootID(vaultID string) string {
	d := crypto.LabeledSum("vault-root", []byte(vaultID))
	return fmt.Sprintf("%x", d[:16])
}

// ValidName reports whether s can name a file or folder.
func ValidName(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("invalid name %q", s)
	case strings.ContainsAny(s, "/\x00"):
		return fmt.Errorf("invalid name %q: no '/' or NUL in a name", s)
	case len(s) > 255:
		return fmt.Errorf("name too long (%d bytes, at most 255)", len(s))
	}
	return nil
}

func manifestAAD(orgID, vaultID, id string, version uint64, index uint32) []byte {
	return aad("manifest", []byte(orgID), []byte(vaultID), []byte(id), u64(version), u32(index))
}

func blockAAD(orgID, vaultID, blockID string) []byte {
	return aad("block", []byte(orgID), []byte(vaultID), []byte(blockID))
}

// minPadded is the smallest padded block: every file of up to 4 KiB looks
// the same to the server.
const minPadded = 4 << 10

// PaddedSize is the size a block of n plaintext bytes is padded to before
// it is encrypted (SPEC.md §11.3): Padmé (Nikitin et al., "Reducing
// metadata leakage from encrypted files and communication with PURBs",
// 2019), which rounds n up so that only about log log n bits of it show,
// at most 12% more bytes; at least 4 KiB, at most MaxChunk (a block
// never exceeds it).
func PaddedSize(n uint64) uint64 {
	if n <= minPadded {
		return minPadded
	}
	e := bits.Len64(n) - 1     // ⌊log₂ n⌋
	s := bits.Len64(uint64(e)) // ⌊log₂ e⌋ + 1
	mask := uint64(1)<<(e-s) - 1
	return min((n+mask)&^mask, max(n, MaxChunk))
}

// sealBlock pads a block's plaintext to its bucket and encrypts it: the
// server sees the bucket, the signed manifest keeps the exact size.
func sealBlock(orgID, vaultID string, b Block, plain []byte) []byte {
	return b.Key.EncryptPadded(blockAAD(orgID, vaultID, b.ID), plain, int(PaddedSize(uint64(len(plain)))))
}

// openBlock decrypts a block and checks it against its signed BlockRef:
// its padding (zeros, to exactly PaddedSize), its size and its digest
// (SECURITY.md A10, A21). It decrypts in place: ciphertext is overwritten
// and the plaintext shares its memory.
func openBlock(orgID, vaultID string, b Block, ciphertext []byte) ([]byte, error) {
	padded, err := b.Key.DecryptInPlace(blockAAD(orgID, vaultID, b.ID), ciphertext)
	if err != nil || uint64(len(padded)) != PaddedSize(b.Size) {
		return nil, ErrBadBlock
	}
	plain, pad := padded[:b.Size], padded[b.Size:]
	if len(bytes.Trim(pad, "\x00")) != 0 || crypto.Sum(plain) != b.Digest {
		return nil, ErrBadBlock
	}
	return plain, nil
}

// encryptManifest serialises and encrypts m alone, as version `version`
// under vault key `index` (SPEC.md §11.3): the form of a format-1 entry's
// write, which this version reads but no longer writes (commit writes a
// batch: encryptBatch).
func encryptManifest(orgID, vaultID string, version uint64, index uint32, key crypto.SecretKey, m *Manifest) ([]byte, error) {
	format, folder, file := encodeKind(m, false)
	w := &coffrev1.Manifest{FormatVersion: format, Id: m.ID, Parent: m.Parent, UpdatedMs: m.Updated.UnixMilli()}
	if folder != nil {
		w.Kind = &coffrev1.Manifest_Folder{Folder: folder}
	} else {
		w.Kind = &coffrev1.Manifest_File{File: file}
	}
	plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(w)
	if err != nil {
		return nil, err
	}
	k := crypto.DeriveKey(key.Bytes(), labelManifest, nil)
	return k.Encrypt(manifestAAD(orgID, vaultID, m.ID, version, index), plain), nil
}

// compactID writes an id as a manifest batch does: raw when it can be.
func compactID(id string, compact bool) (string, []byte) {
	if !compact {
		return id, nil
	}
	return vaultlog.CompactID(id)
}

// parseID reads an id written by compactID: in a batch, exactly one of
// text and raw in its one encoding; alone, text only. The id must be
// valid (§3.2).
func parseID(text string, raw []byte, compact bool) (string, bool) {
	switch {
	case compact:
		return vaultlog.ParseCompactID(text, raw)
	case len(raw) != 0:
		return "", false
	}
	return text, certificate.ValidID(text)
}

// encodeKind is a manifest's format and content as written: alone
// (compact false) or in a batch, where ids are raw and a file's block
// offsets and last block's size are implied (SPEC.md §11.3).
func encodeKind(m *Manifest, compact bool) (uint32, *coffrev1.FolderManifest, *coffrev1.FileManifest) {
	switch {
	case m.Folder && m.Pages != nil:
		f := &coffrev1.FolderManifest{PageCount: uint32(len(m.Pages))}
		for _, p := range m.Pages {
			r := &coffrev1.FolderPageRef{Digest: p.Digest[:], Key: p.Key.Bytes(), EntryCount: p.Entries, Low: p.Low}
			r.Id, r.RawId = compactID(p.ID, compact)
			f.Pages = append(f.Pages, r)
			f.EntryCount += uint64(p.Entries)
		}
		return PagedFormat, f, nil
	case m.Folder:
		f := &coffrev1.FolderManifest{}
		for _, c := range m.Children {
			e := &coffrev1.FolderEntry{Name: c.Name, Folder: c.Folder}
			e.Id, e.RawId = compactID(c.ID, compact)
			f.Entries = append(f.Entries, e)
		}
		return ManifestFormat, f, nil
	}
	f := &coffrev1.FileManifest{Size: m.Size}
	for i, b := range m.Blocks {
		r := &coffrev1.BlockRef{Key: b.Key.Bytes(), Digest: b.Digest[:], Offset: b.Offset, Size: b.Size}
		r.Id, r.RawId = compactID(b.ID, compact)
		if compact {
			r.Offset = 0
			if i == len(m.Blocks)-1 {
				r.Size = 0
			}
		}
		f.Blocks = append(f.Blocks, r)
	}
	return ManifestFormat, nil, f
}

// decryptManifest opens a format-1 entry's manifest write and checks that
// it describes itself as the id it was written under (SECURITY.md A11),
// then what decodeKind checks.
func decryptManifest(orgID, vaultID string, w vaultlog.Write, index uint32, key crypto.SecretKey) (*Manifest, error) {
	k := crypto.DeriveKey(key.Bytes(), labelManifest, nil)
	plain, err := k.Decrypt(manifestAAD(orgID, vaultID, w.ManifestID, w.Version, index), w.Ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %s v%d does not decrypt", ErrBadManifest, w.ManifestID, w.Version)
	}
	var p coffrev1.Manifest
	if err := proto.Unmarshal(plain, &p); err != nil || p.GetId() != w.ManifestID {
		return nil, fmt.Errorf("%w: %s v%d is not the manifest it claims to be", ErrBadManifest, w.ManifestID, w.Version)
	}
	m := &Manifest{ID: p.GetId(), Parent: p.GetParent(), Updated: time.UnixMilli(p.GetUpdatedMs()).UTC()}
	if err := decodeKind(m, p.GetFormatVersion(), p.GetFolder(), p.GetFile(), false); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeKind reads a manifest's content into m and checks it (SPEC.md
// §11.3): a known format; a folder's names valid and distinct, and no
// child id twice; a file's blocks each with a valid id and key, a 32-byte
// digest and a size, in order without gaps or overlaps, covering its size
// exactly (SECURITY.md A10). compact: as written in a batch (encodeKind).
func decodeKind(m *Manifest, format uint32, folder *coffrev1.FolderManifest, file *coffrev1.FileManifest, compact bool) error {
	if format != ManifestFormat && format != PagedFormat {
		return fmt.Errorf("%w: %s is of format %d", ErrBadManifest, m.ID, format)
	}
	switch {
	case folder != nil:
		m.Folder = true
		if format == PagedFormat {
			pages, err := pageRefs(m.ID, folder, compact)
			if err != nil {
				return err
			}
			m.Pages = pages
			return nil
		}
		if folder.GetPageCount() != 0 || len(folder.GetPages()) != 0 || folder.GetEntryCount() != 0 {
			return fmt.Errorf("%w: folder %s of format 2 lists pages", ErrBadManifest, m.ID)
		}
		// One name per child id: a child listed under many names would
		// make every walk of the tree exponential in its depth.
		names, ids := map[string]bool{}, map[string]bool{}
		for _, e := range folder.GetEntries() {
			if ValidName(e.GetName()) != nil || names[e.GetName()] {
				return fmt.Errorf("%w: folder %s has a bad or duplicate name", ErrBadManifest, m.ID)
			}
			id, ok := e.GetId(), true
			if compact || len(e.GetRawId()) != 0 {
				id, ok = parseID(e.GetId(), e.GetRawId(), compact)
			}
			if !ok {
				return fmt.Errorf("%w: folder %s has a bad child id", ErrBadManifest, m.ID)
			}
			if ids[id] {
				return fmt.Errorf("%w: folder %s lists child %s twice", ErrBadManifest, m.ID, id)
			}
			names[e.GetName()], ids[id] = true, true
			m.Children = append(m.Children, ChildEntry{Name: e.GetName(), ID: id, Folder: e.GetFolder()})
		}
		return nil
	case file != nil:
		if format != ManifestFormat {
			return fmt.Errorf("%w: file %s has a folder's format", ErrBadManifest, m.ID)
		}
		m.Size = file.GetSize()
		bad := fmt.Errorf("%w: file %s has a bad block list", ErrBadManifest, m.ID)
		var next uint64
		refs := file.GetBlocks()
		for i, b := range refs {
			key, err := crypto.ParseSecretKey(b.GetKey())
			if err != nil || len(b.GetDigest()) != len(crypto.Digest{}) {
				return bad
			}
			id, offset, size := b.GetId(), b.GetOffset(), b.GetSize()
			if compact {
				// Implied: the offset, and the last block's size.
				var ok bool
				if id, ok = parseID(b.GetId(), b.GetRawId(), true); !ok || offset != 0 || (i == len(refs)-1) != (size == 0) {
					return bad
				}
				offset = next
				if i == len(refs)-1 {
					if next >= m.Size {
						return bad
					}
					size = m.Size - next
				}
			} else if len(b.GetRawId()) != 0 {
				return bad
			}
			if offset != next || size == 0 || size > m.Size-next {
				return bad
			}
			var d crypto.Digest
			copy(d[:], b.GetDigest())
			m.Blocks = append(m.Blocks, Block{ID: id, Key: key, Digest: d, Offset: offset, Size: size})
			next += size
		}
		if next != m.Size {
			return fmt.Errorf("%w: file %s blocks cover %d bytes of %d", ErrBadManifest, m.ID, next, m.Size)
		}
		return nil
	}
	return fmt.Errorf("%w: %s is neither a file nor a folder", ErrBadManifest, m.ID)
}

func sortChildren(c []ChildEntry) {
	sort.Slice(c, func(i, j int) bool { return c[i].Name < c[j].Name })
}
