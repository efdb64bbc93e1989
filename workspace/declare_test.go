package workspace

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/crypto"
)

// TestCommitDeclaresEveryBlock: each entry declares to the server every
// block its manifests reference, reused ones and folder pages included, and an entry of
// folders alone an empty list, not none (SPEC.md §7.5): a block an entry
// needs and did not declare would be collected.
func TestCommitDeclaresEveryBlock(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	v := m.open(t, srv, Deps{})
	lastDeclared := func() []string {
		t.Helper()
		srv.mu.Lock()
		defer srv.mu.Unlock()
		last := srv.declared[len(srv.declared)-1]
		if last == nil {
			t.Fatal("an append declared nil")
		}
		return append([]string{}, slices.Sorted(slices.Values(last))...)
	}
	blocksOf := func(p string) []string {
		t.Helper()
		ver, err := v.Stat(p, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range ver.Manifest.Blocks {
			ids = append(ids, b.ID)
		}
		return slices.Sorted(slices.Values(ids))
	}

	content := crypto.RandomBytes(6 << 20)
	if _, err := v.Put(ctx, "/a", bytes.NewReader(content), nil); err != nil {
		t.Fatal(err)
	}
	first := blocksOf("/a")
	if len(first) < 2 {
		t.Fatalf("a 6 MiB file has %d blocks", len(first))
	}
	if got := lastDeclared(); !slices.Equal(got, first) {
		t.Fatalf("the put declared %v, want its blocks %v", got, first)
	}

	// A new version reuses most blocks: it declares them all again.
	if _, err := v.Put(ctx, "/a", bytes.NewReader(append(content, 'x')), nil); err != nil {
		t.Fatal(err)
	}
	second := blocksOf("/a")
	reused := 0
	for _, id := range second {
		if slices.Contains(first, id) {
			reused++
		}
	}
	if reused == 0 {
		t.Fatal("the second version reused no block: the test shows nothing")
	}
	if got := lastDeclared(); !slices.Equal(got, second) {
		t.Fatalf("the second version declared %v, want all its blocks %v", got, second)
	}

	if err := v.Mkdir(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	if got := lastDeclared(); len(got) != 0 {
		t.Fatalf("a mkdir declared %v, want an empty list", got)
	}
	// A restore writes version 1's blocks again.
	if err := v.Restore(ctx, "/a", 1); err != nil {
		t.Fatal(err)
	}
	if got := lastDeclared(); !slices.Equal(got, first) {
		t.Fatalf("the restore declared %v, want version 1's blocks %v", got, first)
	}

	// A folder in pages declares all its pages, those a batch rewrote and
	// those it kept (SPEC.md §11.3.1), beside its new files' blocks.
	inBatches(t, v, "/d", 2*PageEntries+100, 100)
	if _, err := v.PutFiles(ctx, emptyItems("/d", "g", 0, 1)); err != nil {
		t.Fatal(err)
	}
	ver, err := v.Stat("/d", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ver.Manifest.Pages) < 2 {
		t.Fatalf("a folder of %d entries is in %d pages", 2*PageEntries+101, len(ver.Manifest.Pages))
	}
	var pages []string
	for _, p := range ver.Manifest.Pages {
		pages = append(pages, p.ID)
	}
	if got := lastDeclared(); !slices.Equal(got, slices.Sorted(slices.Values(pages))) {
		t.Fatalf("a batch into a folder in pages declared %v, want its %d pages %v", got, len(pages), pages)
	}
}
