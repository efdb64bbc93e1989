package server

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/vaultlog"
)

// TestDeclaredBlocks: what VaultAppend takes as an entry's declaration
// (SPEC.md §7.5): well-formed ids, each once; nothing from an older
// client; and a request that lists blocks without declaring them, or too
// many, or an id that is not one, is malformed.
func TestDeclaredBlocks(t *testing.T) {
	const a, b = "block0000000001", "block0000000002"
	for _, c := range []struct {
		name     string
		req      *coffrev1.VaultAppendRequest
		declared bool
		ids      []string
		bad      bool
	}{
		{"older client", &coffrev1.VaultAppendRequest{}, false, nil, false},
		{"empty", &coffrev1.VaultAppendRequest{BlocksDeclared: true}, true, []string{}, false},
		{"twice", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{a, b, a}}, true, []string{a, b}, false},
		{"undeclared list", &coffrev1.VaultAppendRequest{BlockIds: []string{a}}, false, nil, true},
		{"path", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{a, "../../x"}}, false, nil, true},
		{"too many", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: make([]string, maxDeclaredBlocks+1)}, false, nil, true},
	} {
		refs, err := declaredBlocks(c.req)
		if c.bad {
			if !errors.Is(err, errBadRequest) {
				t.Errorf("%s: %v, want %v", c.name, err, errBadRequest)
			}
			continue
		}
		if err != nil || refs.Declared != c.declared || !slices.Equal(refs.IDs, c.ids) {
			t.Errorf("%s: %+v, %v; want declared %v, %v", c.name, refs, err, c.declared, c.ids)
		}
	}
}

// TestDeclaredPages: the folder pages a VaultAppend records (SPEC.md
// §11.3.1): the pages named for each folder in pages the entry writes,
// and none for every other manifest it writes; a folder the entry does
// not write, named twice or with no page, or a page that is not a
// declared block, is malformed.
func TestDeclaredPages(t *testing.T) {
	const p1, p2, folder, file = "block0000000001", "block0000000002", "folder00000001", "file0000000001"
	e := &vaultlog.Entry{Writes: []vaultlog.Write{{ManifestID: folder, Version: 1}, {ManifestID: file, Version: 1}}}
	pages := func(folder string, ids ...string) *coffrev1.FolderPages {
		return &coffrev1.FolderPages{FolderId: folder, PageIds: ids}
	}
	for _, c := range []struct {
		name string
		req  *coffrev1.VaultAppendRequest
		want []store.FolderPages
		bad  bool
	}{
		{"older client", &coffrev1.VaultAppendRequest{}, nil, false},
		{"no folder in pages", &coffrev1.VaultAppendRequest{BlocksDeclared: true},
			[]store.FolderPages{{Folder: folder}, {Folder: file}}, false},
		{"a folder in pages", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{p1, p2}, FolderPages: []*coffrev1.FolderPages{pages(folder, p2, p1)}},
			[]store.FolderPages{{Folder: folder, Pages: []string{p2, p1}}, {Folder: file}}, false},
		{"not written", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{p1}, FolderPages: []*coffrev1.FolderPages{pages("other000000001", p1)}}, nil, true},
		{"twice", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{p1}, FolderPages: []*coffrev1.FolderPages{pages(folder, p1), pages(folder, p1)}}, nil, true},
		{"no page", &coffrev1.VaultAppendRequest{BlocksDeclared: true, FolderPages: []*coffrev1.FolderPages{pages(folder)}}, nil, true},
		{"undeclared page", &coffrev1.VaultAppendRequest{BlocksDeclared: true, BlockIds: []string{p1}, FolderPages: []*coffrev1.FolderPages{pages(folder, p1, p2)}}, nil, true},
		{"pages without a declaration", &coffrev1.VaultAppendRequest{FolderPages: []*coffrev1.FolderPages{pages(folder, p1)}}, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			refs, err := declaredBlocks(c.req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := declaredPages(c.req, e, refs)
			if c.bad {
				if !errors.Is(err, errBadRequest) {
					t.Fatalf("error %v, want errBadRequest", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("recorded %v, %v; want %v", got, err, c.want)
			}
		})
	}
}
