package workspace

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
)

// writeFormat makes the vault's commits write entries of format f until
// the test ends.
func writeFormat(t *testing.T, f uint32) {
	old := entryFormat
	entryFormat = f
	t.Cleanup(func() { entryFormat = old })
}

func formatsOf(t *testing.T, entries [][]byte) []uint32 {
	t.Helper()
	var out []uint32
	for _, data := range entries {
		e, err := vaultlog.ParseEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Format)
	}
	return out
}

// TestOldEntriesStillRead: a vault whose log holds entries written as
// before (format 1: a ciphertext per manifest) and then entries in
// batches (format 2) reads whole on a fresh device: files of one and of
// many blocks, a folder in pages, and versions of one file in each format.
func TestOldEntriesStillRead(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	v := m.open(t, srv, Deps{})
	// Larger than MaxChunk, so that each has several blocks whatever the
	// member's chunking secret: a file of 3 MiB is one block about once
	// in 3,500 secrets (no content cut in its 2 MiB after AvgChunk), which
	// made this test fail once in CI.
	big1, big2 := randomBytes(1, MaxChunk+1<<20), randomBytes(2, MaxChunk+1<<20)

	writeFormat(t, vaultlog.FormatSeparate)
	put(t, v, "/a.txt", "written before")
	mkdir(t, v, "/d")
	inBatches(t, v, "/d", 300, 150)
	if _, err := v.Put(ctx, "/big1", bytes.NewReader(big1), nil); err != nil {
		t.Fatal(err)
	}
	old := len(srv.entries())
	writeFormat(t, vaultlog.FormatVersion)
	put(t, v, "/a.txt", "written in a batch")
	if _, err := v.PutFiles(ctx, emptyItems("/d", "g", 0, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, "/big2", bytes.NewReader(big2), nil); err != nil {
		t.Fatal(err)
	}
	formats := formatsOf(t, srv.entries())
	if slices.ContainsFunc(formats[:old], func(f uint32) bool { return f != 1 }) || slices.ContainsFunc(formats[old:], func(f uint32) bool { return f != 2 }) {
		t.Fatalf("entry formats %v, want %d of format 1 then format 2", formats, old)
	}

	fresh := m.open(t, srv, Deps{})
	if q := fresh.Log().Quarantined(); len(q) != 0 {
		t.Fatalf("quarantined: %v", q[0].Reason)
	}
	if got := content(t, fresh, "/a.txt"); got != "written in a batch" {
		t.Errorf("a.txt reads %q", got)
	}
	hist, err := fresh.History("/a.txt")
	if err != nil || len(hist) != 2 {
		t.Fatalf("a.txt's history: %d versions, %v", len(hist), err)
	}
	var b bytes.Buffer
	if _, err := fresh.WriteTo(ctx, "/a.txt", hist[0].Time, &b, nil); err != nil || b.String() != "written before" {
		t.Errorf("a.txt as of its first version reads %q, %v", b.String(), err)
	}
	if got := names(t, fresh, "/d", time.Time{}); len(got) != 400 {
		t.Errorf("/d lists %d names, want 400", len(got))
	}
	if len(pagesOfFolder(t, fresh, "/d")) < 2 {
		t.Error("/d is not in pages")
	}
	for p, want := range map[string][]byte{"/big1": big1, "/big2": big2} {
		ver, err := fresh.Stat(p, time.Time{})
		if err != nil || len(ver.Manifest.Blocks) < 2 {
			t.Fatalf("%s: %v, want a file of several blocks", p, err)
		}
		if got := content(t, fresh, p); got != string(want) {
			t.Errorf("%s does not read back", p)
		}
	}
}

// TestBatchSmallerThanSeparate: the same 256 files cost less than half
// the bytes in a batch than as separate manifests, and the figures say
// where the bytes go.
func TestBatchSmallerThanSeparate(t *testing.T) {
	entryBytes := func(f uint32) int {
		writeFormat(t, f)
		m := newMember(t)
		srv := &server{}
		v := m.open(t, srv, Deps{})
		mkdir(t, v, "/d")
		items, _ := smallItems("/d/note-", 256)
		if _, err := v.PutFiles(context.Background(), items); err != nil {
			t.Fatal(err)
		}
		all := srv.entries()
		return len(all[len(all)-1])
	}
	separate, batch := entryBytes(vaultlog.FormatSeparate), entryBytes(vaultlog.FormatVersion)
	t.Logf("an entry of 256 new files of one block and their folder: %d bytes as separate manifests (%.0f a file), %d in a batch (%.0f a file)",
		separate, float64(separate)/256, batch, float64(batch)/256)
	if batch*2 > separate {
		t.Errorf("a batch costs %d bytes, not under half of %d", batch, separate)
	}
}

// TestBatchChecked: a batch that does not answer its writes one for one,
// names its parents badly, or writes a block list in a form the batch
// does not allow is refused (quarantined by Apply), and so is a batch
// opened for another entry.
func TestBatchChecked(t *testing.T) {
	key := crypto.NewSecretKey()
	ids := []string{"0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"}
	e := &vaultlog.Entry{Position: 7, KeyIndex: 1, Time: time.Now(),
		Writes: []vaultlog.Write{{ManifestID: ids[0], Version: 1}, {ManifestID: ids[1], Version: 4}}}
	digest := make([]byte, 32)
	raw := func(id string) []byte { _, r := vaultlog.CompactID(id); return r }
	file := func(size uint64, blocks ...*coffrev1.BlockRef) *coffrev1.BatchManifest {
		return &coffrev1.BatchManifest{FormatVersion: 2, Parent: 1, Kind: &coffrev1.BatchManifest_File{File: &coffrev1.FileManifest{Size: size, Blocks: blocks}}}
	}
	block := func(size, offset uint64) *coffrev1.BlockRef {
		return &coffrev1.BlockRef{RawId: raw(ids[1]), Key: crypto.NewSecretKey().Bytes(), Digest: digest, Size: size, Offset: offset}
	}
	good := func() *coffrev1.ManifestBatch {
		return &coffrev1.ManifestBatch{Parents: []string{"aaaaaaaaaaaaaaaa"}, Manifests: []*coffrev1.BatchManifest{
			file(10, block(4, 0), block(0, 0)), file(0)}}
	}
	seal := func(b *coffrev1.ManifestBatch, e *vaultlog.Entry) []byte {
		plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return crypto.DeriveKey(key.Bytes(), labelManifest, nil).Encrypt(batchAAD("org", "vault", e.Position, e.KeyIndex, e.Writes), plain)
	}
	e.Manifests = seal(good(), e)
	got, err := openBatch("org", "vault", e, key)
	if err != nil || len(got) != 2 || got[0].ID != ids[0] || got[0].Parent != "aaaaaaaaaaaaaaaa" || got[1].ID != ids[1] ||
		got[0].Blocks[1].Offset != 4 || got[0].Blocks[1].Size != 6 || got[0].Blocks[1].ID != ids[1] {
		t.Fatalf("a good batch: %+v, %v", got, err)
	}
	for name, change := range map[string]func(b *coffrev1.ManifestBatch){
		"one manifest fewer than writes":  func(b *coffrev1.ManifestBatch) { b.Manifests = b.Manifests[:1] },
		"one manifest more than writes":   func(b *coffrev1.ManifestBatch) { b.Manifests = append(b.Manifests, file(0)) },
		"a parent index out of range":     func(b *coffrev1.ManifestBatch) { b.Manifests[1].Parent = 2 },
		"a parent given twice":            func(b *coffrev1.ManifestBatch) { b.Parents = append(b.Parents, b.Parents[0]) },
		"a parent that is no id":          func(b *coffrev1.ManifestBatch) { b.Parents[0] = "../x" },
		"a block with an offset":          func(b *coffrev1.ManifestBatch) { b.Manifests[0].GetFile().Blocks[1].Offset = 4 },
		"a last block with a size":        func(b *coffrev1.ManifestBatch) { b.Manifests[0].GetFile().Blocks[1].Size = 6 },
		"a middle block without a size":   func(b *coffrev1.ManifestBatch) { b.Manifests[0].GetFile().Blocks[0].Size = 0 },
		"blocks beyond the file's size":   func(b *coffrev1.ManifestBatch) { b.Manifests[0].GetFile().Size = 4 },
		"a block id as hex text":          func(b *coffrev1.ManifestBatch) { r := b.Manifests[0].GetFile().Blocks[0]; r.Id, r.RawId = ids[1], nil },
		"a block id both ways":            func(b *coffrev1.ManifestBatch) { b.Manifests[0].GetFile().Blocks[0].Id = "bbbbbbbbbbbbbbbb" },
		"a block id of 15 bytes":          func(b *coffrev1.ManifestBatch) { b.Manifests[0].GetFile().Blocks[0].RawId = digest[:15] },
		"a manifest of an unknown format": func(b *coffrev1.ManifestBatch) { b.Manifests[1].FormatVersion = 4 },
		"a child id as hex text": func(b *coffrev1.ManifestBatch) {
			b.Manifests[1] = &coffrev1.BatchManifest{FormatVersion: 2, Parent: 1, Kind: &coffrev1.BatchManifest_Folder{Folder: &coffrev1.FolderManifest{
				Entries: []*coffrev1.FolderEntry{{Name: "x", Id: ids[0]}}}}}
		},
	} {
		b := good()
		change(b)
		bad := *e
		bad.Manifests = seal(b, e)
		if _, err := openBatch("org", "vault", &bad, key); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: got %v, want ErrBadManifest", name, err)
		}
	}
	// The batch is bound to its entry: its position, key index, and each
	// write's id and version at its place.
	for name, change := range map[string]func(e *vaultlog.Entry){
		"at another position":      func(e *vaultlog.Entry) { e.Position++ },
		"under another key index":  func(e *vaultlog.Entry) { e.KeyIndex++ },
		"for another version":      func(e *vaultlog.Entry) { e.Writes[1].Version++ },
		"for the writes reordered": func(e *vaultlog.Entry) { e.Writes[0], e.Writes[1] = e.Writes[1], e.Writes[0] },
		"for one write fewer":      func(e *vaultlog.Entry) { e.Writes = e.Writes[:1] },
	} {
		moved := *e
		moved.Writes = slices.Clone(e.Writes)
		change(&moved)
		if _, err := openBatch("org", "vault", &moved, key); !errors.Is(err, ErrBadManifest) {
			t.Errorf("a batch opened %s: got %v, want ErrBadManifest", name, err)
		}
	}
}

// TestCompactPageIDs: a page written since format 2 carries its ids of
// 32 hex digits raw and says so; one written before, as text. Each form
// is read as written and refuses the other's ids.
func TestCompactPageIDs(t *testing.T) {
	hexID := "0123456789abcdef0123456789abcdef"
	_, raw := vaultlog.CompactID(hexID)
	children := []ChildEntry{{Name: "a", ID: hexID}, {Name: "b", ID: "notes0123", Folder: true}}
	for _, f := range []uint32{vaultlog.FormatSeparate, vaultlog.FormatVersion} {
		writeFormat(t, f)
		ref, ct, err := sealPage("org", "vault", "folderA", children)
		if err != nil {
			t.Fatal(err)
		}
		got, err := openPage("org", "vault", "folderA", []PageRef{ref}, 0, ct)
		if err != nil || !slices.Equal(got, children) {
			t.Fatalf("a page written as format %d reads %v, %v", f, got, err)
		}
	}
	seal := func(p *coffrev1.FolderPage) ([]PageRef, []byte) {
		plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		b := Block{ID: "page0001", Key: crypto.NewSecretKey(), Digest: crypto.Sum(plain), Size: uint64(len(plain))}
		return []PageRef{{Block: b, Entries: uint32(len(p.GetEntries()))}}, sealBlock("org", "vault", b, plain)
	}
	for name, p := range map[string]*coffrev1.FolderPage{
		"a compact page with a hex id as text": {FolderId: "folderA", Compact: true, Entries: []*coffrev1.FolderEntry{{Name: "a", Id: hexID}}},
		"a compact page with an id both ways":  {FolderId: "folderA", Compact: true, Entries: []*coffrev1.FolderEntry{{Name: "a", Id: "notes0123", RawId: raw}}},
		"a compact page with a short raw id":   {FolderId: "folderA", Compact: true, Entries: []*coffrev1.FolderEntry{{Name: "a", RawId: raw[:15]}}},
		"an older page with a raw id":          {FolderId: "folderA", Entries: []*coffrev1.FolderEntry{{Name: "a", RawId: raw, Folder: true}}},
	} {
		refs, ct := seal(p)
		if _, err := openPage("org", "vault", "folderA", refs, 0, ct); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: got %v, want ErrBadManifest", name, err)
		}
	}
}

// FuzzOpenBatch: whatever plaintext a writer seals as a batch, openBatch
// returns one manifest per write or ErrBadManifest, and never panics.
func FuzzOpenBatch(f *testing.F) {
	key := crypto.NewSecretKey()
	e := &vaultlog.Entry{Position: 3, KeyIndex: 1, Writes: []vaultlog.Write{
		{ManifestID: "0123456789abcdef0123456789abcdef", Version: 2}, {ManifestID: "fedcba9876543210fedcba9876543210", Version: 1}}}
	root := &Manifest{ID: e.Writes[0].ManifestID, Parent: "aaaaaaaaaaaaaaaa", Folder: true,
		Children: []ChildEntry{{Name: "f", ID: e.Writes[1].ManifestID}}}
	file := &Manifest{ID: e.Writes[1].ManifestID, Parent: root.ID, Size: 9, Blocks: []Block{
		{ID: "0123456789abcdef0123456789abcdef", Key: crypto.NewSecretKey(), Size: 4}, {ID: "b1b1b1b1", Key: crypto.NewSecretKey(), Offset: 4, Size: 5}}}
	sealed, err := encryptBatch("org", "vault", e, key, []*Manifest{root, file})
	if err != nil {
		f.Fatal(err)
	}
	plain, err := crypto.DeriveKey(key.Bytes(), labelManifest, nil).Decrypt(batchAAD("org", "vault", e.Position, e.KeyIndex, e.Writes), sealed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, plain []byte) {
		fe := *e
		fe.Manifests = crypto.DeriveKey(key.Bytes(), labelManifest, nil).Encrypt(batchAAD("org", "vault", e.Position, e.KeyIndex, e.Writes), plain)
		got, err := openBatch("org", "vault", &fe, key)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("error is not ErrBadManifest: %v", err)
			}
			return
		}
		if len(got) != len(e.Writes) {
			t.Fatalf("%d manifests for %d writes", len(got), len(e.Writes))
		}
		for i, m := range got {
			if m.ID != e.Writes[i].ManifestID {
				t.Fatalf("manifest %d is %s, not its write's %s", i, m.ID, e.Writes[i].ManifestID)
			}
		}
	})
}
