package workspace

import (
	"errors"
	"fmt"
	"testing"
)

func TestFolderPagesRoundTripAndRefuseSwaps(t *testing.T) {
	var children []ChildEntry
	for i := range 1000 {
		children = append(children, ChildEntry{Name: fmt.Sprintf("f%04d.txt", i), ID: fmt.Sprintf("id%d", i)})
	}
	count := pageCount(len(children))
	if count != 4 {
		t.Fatalf("pageCount(1000) = %d, want 4", count)
	}
	split := splitPages(children, count)
	var pages []FolderPage
	total := 0
	for i, p := range split {
		fp, err := sealPage("org", "vault", "folderA", uint32(i), p)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, fp)
		got, err := openPage("org", "vault", "folderA", uint32(i), count, fp.Ref, fp.Entries, fp.Ciphertext)
		if err != nil || len(got) != len(p) {
			t.Fatalf("page %d: %d entries, %v; want %d", i, len(got), err, len(p))
		}
		total += len(got)
	}
	if total != len(children) {
		t.Fatalf("pages hold %d entries, want %d", total, len(children))
	}
	// Another page swapped in at index 0: its digest is not the listed one.
	if _, err := openPage("org", "vault", "folderA", 0, count, pages[0].Ref, pages[0].Entries, pages[1].Ciphertext); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("swapped page: %v, want ErrBadManifest", err)
	}
	// The same page claimed by another folder.
	if _, err := openPage("org", "vault", "folderB", 0, count, pages[0].Ref, pages[0].Entries, pages[0].Ciphertext); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("page of another folder: %v, want ErrBadManifest", err)
	}
	// A listed count the page does not match (a truncated page).
	if _, err := openPage("org", "vault", "folderA", 0, count, pages[0].Ref, pages[0].Entries+1, pages[0].Ciphertext); !errors.Is(err, ErrBadManifest) {
		t.Fatalf("wrong entry count: %v, want ErrBadManifest", err)
	}
}
