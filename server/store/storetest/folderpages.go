package storetest

import (
	"reflect"
	"sort"
	"testing"

	"github.com/coffre/coffre/server/store"
)

// wantPages checks VaultPages, in any order of folders.
func wantPages(t *testing.T, st store.Store, l logRef, want ...store.FolderPages) {
	t.Helper()
	got, err := st.VaultPages(t.Context(), l.org, l.vault)
	if err != nil {
		t.Fatalf("VaultPages(%s): %v", l, err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Folder < got[j].Folder })
	if len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
		t.Fatalf("VaultPages(%s) = %v, want %v", l, got, want)
	}
}

// testFolderPages: an append records the pages declared for each folder
// it writes, in order, replacing what was recorded; a folder written
// without pages is dropped; another vault's are its own; an append that
// fails records nothing.
func (s suite) testFolderPages(t *testing.T) {
	st := s.open(t)
	mustOrg(t, st, "org")
	v, other := vaultLog("org", "vault"), vaultLog("org", "other")
	wantPages(t, st, v)

	refs := declared("p1", "p2", "p3")
	refs.Folders = []store.FolderPages{{Folder: "big", Pages: []string{"p2", "p1"}}, {Folder: "small"}, {Folder: "huge", Pages: []string{"p3"}}}
	if err := appendRefs(t, st, v, "entry 1", refs); err != nil {
		t.Fatal(err)
	}
	wantPages(t, st, v, store.FolderPages{Folder: "big", Pages: []string{"p2", "p1"}}, store.FolderPages{Folder: "huge", Pages: []string{"p3"}})
	wantPages(t, st, other)

	refs = declared("p4")
	refs.Folders = []store.FolderPages{{Folder: "big", Pages: []string{"p4"}}, {Folder: "huge"}}
	if err := appendRefs(t, st, v, "entry 2", refs); err != nil {
		t.Fatal(err)
	}
	wantPages(t, st, v, store.FolderPages{Folder: "big", Pages: []string{"p4"}})

	// An append refused (a condemned block) records no pages.
	wantCondemn(t, st, v, []string{"gone"}, false, []string{"gone"}, nil)
	refs = declared("gone")
	refs.Folders = []store.FolderPages{{Folder: "big", Pages: []string{"gone"}}}
	if err := appendRefs(t, st, v, "entry 3", refs); err == nil {
		t.Fatal("an append declaring a condemned block was written")
	}
	wantPages(t, st, v, store.FolderPages{Folder: "big", Pages: []string{"p4"}})
}
