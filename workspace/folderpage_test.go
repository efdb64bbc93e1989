package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// pagesOf seals children sorted by name into pages of size entries, as a
// folder's page list.
func pagesOf(t *testing.T, folderID string, children []ChildEntry, size int) ([]PageRef, [][]byte) {
	t.Helper()
	var refs []PageRef
	var cts [][]byte
	for i := 0; i < len(children); i += size {
		chunk := children[i:min(i+size, len(children))]
		ref, ct, err := sealPage("org", "vault", folderID, chunk)
		if err != nil {
			t.Fatal(err)
		}
		ref.Low = chunk[0].Name
		refs, cts = append(refs, ref), append(cts, ct)
	}
	refs[0].Low = ""
	return refs, cts
}

func TestFolderPagesRoundTripAndRefuseSwaps(t *testing.T) {
	var children []ChildEntry
	for i := range 1000 {
		children = append(children, ChildEntry{Name: fmt.Sprintf("f%04d.txt", i), ID: fmt.Sprintf("id%08d", i)})
	}
	refs, cts := pagesOf(t, "folderA", children, PageEntries)
	if len(refs) != 4 {
		t.Fatalf("%d pages of 1000 entries, want 4", len(refs))
	}
	total := 0
	for i := range refs {
		got, err := openPage("org", "vault", "folderA", refs, i, slices.Clone(cts[i]))
		if err != nil || len(got) != int(refs[i].Entries) {
			t.Fatalf("page %d: %d entries, %v; want %d", i, len(got), err, refs[i].Entries)
		}
		total += len(got)
		if j := pageOf(got[0].Name, refs); j != i {
			t.Fatalf("pageOf(%s) = %d, want %d", got[0].Name, j, i)
		}
	}
	if total != len(children) {
		t.Fatalf("pages hold %d entries, want %d", total, len(children))
	}
	// Another page swapped in at index 0: its digest is not the listed one.
	if _, err := openPage("org", "vault", "folderA", refs, 0, slices.Clone(cts[1])); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("swapped page: %v, want ErrBadManifest", err)
	}
	// The same page claimed by another folder.
	if _, err := openPage("org", "vault", "folderB", refs, 0, slices.Clone(cts[0])); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("page of another folder: %v, want ErrBadManifest", err)
	}
	// A listed count the page does not match (a truncated page).
	bad := slices.Clone(refs)
	bad[0].Entries++
	if _, err := openPage("org", "vault", "folderA", bad, 0, slices.Clone(cts[0])); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("wrong entry count: %v, want ErrBadManifest", err)
	}
	// A range that does not hold the page's names.
	bad = slices.Clone(refs)
	bad[1].Low = children[PageEntries+1].Name
	if _, err := openPage("org", "vault", "folderA", bad, 1, slices.Clone(cts[1])); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("names below the page's low: %v, want ErrBadManifest", err)
	}
}

// emptyItems are n empty files named prefix0000 … in dir, from first on.
func emptyItems(dir, prefix string, first, n int) []PutItem {
	items := make([]PutItem, n)
	for i := range items {
		items[i] = PutItem{Path: fmt.Sprintf("%s/%s%04d", dir, prefix, first+i),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }}
	}
	return items
}

// inBatches writes n empty files into dir in batches of size.
func inBatches(t *testing.T, v *Vault, dir string, n, size int) {
	t.Helper()
	for i := 0; i < n; i += size {
		if _, err := v.PutFiles(context.Background(), emptyItems(dir, "f", i, min(size, n-i))); err != nil {
			t.Fatal(err)
		}
	}
}

func names(t *testing.T, v *Vault, p string, at time.Time) []string {
	t.Helper()
	items, err := v.List(p, at)
	if err != nil {
		t.Fatalf("listing %s: %v", p, err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return out
}

func pagesOfFolder(t *testing.T, v *Vault, p string) []PageRef {
	t.Helper()
	ver, err := v.Stat(p, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return ver.Manifest.Pages
}

// A folder grown past PageEntries is written in pages, read back whole,
// renamed and moved with its pages, read as of before, shrunk back to
// format 2; a second device reads it from the log; its removals are in
// the trash and come back.
func TestFolderInPages(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	v := m.open(t, srv, Deps{})
	mkdir(t, v, "/big")
	inBatches(t, v, "/big", 200, 100)
	if p := pagesOfFolder(t, v, "/big"); p != nil {
		t.Fatalf("a folder of 200 entries is in %d pages, want format 2", len(p))
	}
	small := time.Now()
	time.Sleep(5 * time.Millisecond)
	inBatches(t, v, "/big", 600, 100)
	pages := pagesOfFolder(t, v, "/big")
	if len(pages) < 2 {
		t.Fatalf("a folder of 600 entries is in %d pages", len(pages))
	}
	var want []string
	for i := range 600 {
		want = append(want, fmt.Sprintf("f%04d", i))
	}
	if got := names(t, v, "/big", time.Time{}); !slices.Equal(got, want) {
		t.Fatalf("the folder in pages lists %d names, want %d in order", len(got), len(want))
	}
	if got := names(t, v, "/big", small); len(got) != 200 {
		t.Fatalf("as of before, it lists %d names, want 200", len(got))
	}
	if _, err := v.Stat("/big/f0377", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Stat("/big/nope", time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a name not there: %v, want ErrNotFound", err)
	}

	// A rename inside it, then the folder renamed and moved.
	if err := v.Move(ctx, "/big/f0001", "/big/renamed"); err != nil {
		t.Fatal(err)
	}
	mkdir(t, v, "/sub")
	if err := v.Move(ctx, "/big", "/sub/moved"); err != nil {
		t.Fatal(err)
	}
	got := names(t, v, "/sub/moved", time.Time{})
	if len(got) != 600 || !slices.Contains(got, "renamed") || slices.Contains(got, "f0001") {
		t.Fatalf("after the moves it lists %d names", len(got))
	}

	// Another device reads it all from the log and the pages.
	other := m.open(t, srv, Deps{})
	if got := names(t, other, "/sub/moved", time.Time{}); len(got) != 600 {
		t.Fatalf("another device lists %d names, want 600", len(got))
	}
	walked := 0
	if err := other.Walk(func(string, Version) error { walked++; return nil }); err != nil || walked != 602 {
		t.Fatalf("walked %d, %v; want 602", walked, err)
	}

	// Removed down to 250: format 2 again; the removals are in the trash.
	for i := 250; i < 600; i++ {
		if err := v.Remove(ctx, fmt.Sprintf("/sub/moved/f%04d", i)); err != nil {
			t.Fatal(err)
		}
		if i == 300 {
			if p := pagesOfFolder(t, v, "/sub/moved"); p == nil {
				t.Fatal("a folder of 549 entries is not in pages")
			}
		}
	}
	if p := pagesOfFolder(t, v, "/sub/moved"); p != nil {
		t.Fatalf("a folder shrunk to 250 entries is in %d pages, want format 2", len(p))
	}
	if got := names(t, v, "/sub/moved", time.Time{}); len(got) != 250 {
		t.Fatalf("after the removals it lists %d, want 250", len(got))
	}
	trashed := trashPaths(t, v, "/sub/moved")
	if len(trashed) != 350 || !slices.Contains(trashed, "/sub/moved/f0500") {
		t.Fatalf("the trash holds %d, want the 350 removed", len(trashed))
	}
	if _, err := v.Undelete(ctx, "/sub/moved/f0500", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Stat("/sub/moved/f0500", time.Time{}); err != nil {
		t.Fatal(err)
	}
	hist, err := v.History("/sub/moved")
	if err != nil || len(hist) < 15 {
		t.Fatalf("the folder's history: %d versions, %v", len(hist), err)
	}
	if q := v.Log().Quarantined(); len(q) != 0 {
		t.Fatalf("entries quarantined: %v", q[0].Reason)
	}
}

// folderBytes writes n empty files into a new folder in batches of size
// and returns what its history costs the server: every version of the
// folder's manifest, and every page block.
func folderBytes(t *testing.T, n, size int) int {
	t.Helper()
	m := newMember(t)
	srv := &server{}
	v := m.open(t, srv, Deps{})
	mkdir(t, v, "/d")
	inBatches(t, v, "/d", n, size)
	ver, err := v.Stat("/d", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Every version of the folder's manifest as its entry's batch holds it.
	total := 0
	for _, h := range v.Log().History(ver.Manifest.ID) {
		format, folder, _ := encodeKind(h.Manifest, true)
		total += proto.Size(&coffrev1.BatchManifest{FormatVersion: format, Parent: 1, Kind: &coffrev1.BatchManifest_Folder{Folder: folder}})
	}
	for _, b := range srv.blocks { // the files are empty: only pages
		total += len(b)
	}
	return total
}

// TestFolderPagesHistoryIsLinear: a folder written in batches keeps
// O(files) bytes of history in pages, O(files²/batch) whole (format 2).
func TestFolderPagesHistoryIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 6,000 files")
	}
	paged1k, paged2k := folderBytes(t, 1000, 100), folderBytes(t, 2000, 100)
	pagedAbove = 1 << 30
	defer func() { pagedAbove = PageEntries }()
	whole1k, whole2k := folderBytes(t, 1000, 100), folderBytes(t, 2000, 100)
	t.Logf("folder history, 1,000 / 2,000 files in batches of 100: in pages %d / %d bytes, whole (format 2) %d / %d bytes",
		paged1k, paged2k, whole1k, whole2k)
	if float64(paged2k)/float64(paged1k) > 2.5 {
		t.Errorf("in pages, twice the files cost %.1f× the bytes: not linear", float64(paged2k)/float64(paged1k))
	}
	if paged2k*2 > whole2k {
		t.Errorf("2,000 files in pages cost %d bytes, not under half of format 2's %d", paged2k, whole2k)
	}
}

// TestFolderPageListChecked: a page list cut short, with a count or an
// entry total that doesn't add up, lows out of order, or entries beside
// pages is refused before any page is read (SECURITY.md A61).
func TestFolderPageListChecked(t *testing.T) {
	var children []ChildEntry
	for i := range 700 {
		children = append(children, ChildEntry{Name: fmt.Sprintf("f%04d", i), ID: fmt.Sprintf("id%08d", i)})
	}
	refs, _ := pagesOf(t, "folderA", children, PageEntries)
	wire := func() *coffrev1.FolderManifest {
		f := &coffrev1.FolderManifest{PageCount: uint32(len(refs))}
		for _, p := range refs {
			f.Pages = append(f.Pages, &coffrev1.FolderPageRef{Id: p.ID, Digest: p.Digest[:], Key: p.Key.Bytes(), EntryCount: p.Entries, Low: p.Low})
			f.EntryCount += uint64(p.Entries)
		}
		return f
	}
	if got, err := pageRefs("folderA", wire(), false); err != nil || len(got) != len(refs) {
		t.Fatalf("the honest page list: %d refs, %v", len(got), err)
	}
	for name, edit := range map[string]func(*coffrev1.FolderManifest){
		"the last ref dropped":      func(f *coffrev1.FolderManifest) { f.Pages = f.Pages[:len(f.Pages)-1] },
		"cut short, count followed": func(f *coffrev1.FolderManifest) { f.Pages = f.Pages[:len(f.Pages)-1]; f.PageCount-- },
		"no pages":                  func(f *coffrev1.FolderManifest) { f.Pages, f.PageCount = nil, 0 },
		"an entry count off":        func(f *coffrev1.FolderManifest) { f.Pages[1].EntryCount-- },
		"lows swapped":              func(f *coffrev1.FolderManifest) { f.Pages[1].Low, f.Pages[2].Low = f.Pages[2].Low, f.Pages[1].Low },
		"a first low":               func(f *coffrev1.FolderManifest) { f.Pages[0].Low = "a" },
		"a page twice":              func(f *coffrev1.FolderManifest) { f.Pages[2].Id = f.Pages[1].Id },
		"entries beside pages":      func(f *coffrev1.FolderManifest) { f.Entries = []*coffrev1.FolderEntry{{Name: "x", Id: "y"}} },
	} {
		f := wire()
		edit(f)
		if _, err := pageRefs("folderA", f, false); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: %v, want ErrBadManifest", name, err)
		}
	}
}

func FuzzOpenPage(f *testing.F) {
	sealed, _, err := sealPage("org", "vault", "folderA", []ChildEntry{{Name: "a", ID: "child001"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, uint32(2), "")
	plain, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.FolderPage{FolderId: "folderA",
		Entries: []*coffrev1.FolderEntry{{Name: "a", Id: "1"}, {Name: "b", Id: "2", Folder: true}}})
	f.Add(plain, uint32(2), "")
	f.Add(plain, uint32(2), "b")
	f.Fuzz(func(t *testing.T, plain []byte, entries uint32, next string) {
		// Whatever a writer sealed, opening it never panics, and what it
		// accepts is the page's count of valid names, increasing, in range.
		ref := sealed
		ref.Digest, ref.Entries = crypto.Sum(bytes.TrimRight(plain, "\x00")), entries
		list := []PageRef{ref}
		if next != "" {
			list = append(list, PageRef{Low: next})
		}
		ct := sealBlock("org", "vault", Block{ID: ref.ID, Key: ref.Key}, plain)
		got, err := openPage("org", "vault", "folderA", list, 0, ct)
		if err != nil {
			return
		}
		if uint32(len(got)) != entries {
			t.Fatal("accepted a page with another count of entries")
		}
		for i, c := range got {
			if ValidName(c.Name) != nil || next != "" && c.Name >= next || i > 0 && c.Name <= got[i-1].Name {
				t.Fatal("accepted a name out of its place")
			}
		}
	})
}
