package adversarial

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// pagedWorld is a vault in which alice wrote /big and /other, folders of
// 600 empty files each (f0000 …), so in pages (SPEC.md §11.3.1), and bob,
// a reader who read nothing yet.
func pagedWorld(t *testing.T) (*world, *workspace.Vault) {
	t.Helper()
	w := newWorld(t, "pages", member{"bob", certificate.ProfileStandard, certificate.RoleReader})
	av := w.open(t, "alice")
	for _, dir := range []string{"/big", "/other"} {
		mkdir(t, av, dir)
		items := make([]workspace.PutItem, 600)
		for i := range items {
			items[i] = workspace.PutItem{Path: fmt.Sprintf("%s/f%04d", dir, i),
				Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }}
		}
		if _, err := av.PutFiles(bg(), items); err != nil {
			t.Fatal(err)
		}
	}
	return w, av
}

func pagesAt(t *testing.T, v *workspace.Vault, p string) []workspace.PageRef {
	t.Helper()
	ver, err := v.Stat(p, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ver.Manifest.Pages) < 2 {
		t.Fatalf("%s is in %d pages, want a folder in pages", p, len(ver.Manifest.Pages))
	}
	return ver.Manifest.Pages
}

// freshReader opens bob's vault with nothing of it cached, in memory or
// on disk: every page is asked of the server.
func (w *world) freshReader(t *testing.T) *workspace.Vault {
	t.Helper()
	w.forgetCache(t, "bob")
	return w.open(t, "bob")
}

// TestA60FolderPageFromElsewhereRefused: the server serves, under the id
// of a page of /big, a page of another folder, the page this folder had
// there before a rename, or another page of this folder. Each is refused
// with workspace.ErrBadManifest, by a listing and by a lookup of a name
// in that page: a page is a block under its own key and associated data,
// whose digest, folder and entry count the signed folder manifest fixes
// (SECURITY.md A60).
func TestA60FolderPageFromElsewhereRefused(t *testing.T) {
	t.Parallel()
	w, av := pagedWorld(t)
	older := pagesAt(t, av, "/big")
	// A rename inside page 0 writes that page again, under a new key.
	if err := av.Move(bg(), "/big/f0000", "/big/e0000"); err != nil {
		t.Fatal(err)
	}
	cur, other := pagesAt(t, av, "/big"), pagesAt(t, av, "/other")
	if cur[0].ID == older[0].ID || cur[1].ID != older[1].ID {
		t.Fatal("the rename did not write page 0 alone again: the test shows nothing")
	}
	stored := w.s.Block(t, w.org, w.vault, cur[0].ID)
	for name, data := range map[string][]byte{
		"a page of another folder":             w.s.Block(t, w.org, w.vault, other[0].ID),
		"this folder's page before the rename": w.s.Block(t, w.org, w.vault, older[0].ID),
		"another page of this folder":          w.s.Block(t, w.org, w.vault, cur[1].ID),
	} {
		t.Run(name, func(t *testing.T) {
			defer w.s.WriteBlock(t, w.org, w.vault, cur[0].ID, stored)
			w.s.WriteBlock(t, w.org, w.vault, cur[0].ID, data)
			bv := w.freshReader(t)
			items, err := bv.List("/big", time.Time{})
			wantErr(t, err, workspace.ErrBadManifest)
			if items != nil {
				t.Fatalf("a refused listing still lists %d names", len(items))
			}
			_, err = bv.Stat("/big/e0000", time.Time{})
			wantErr(t, err, workspace.ErrBadManifest)
		})
	}
	if got := list(t, w.freshReader(t), "/big"); len(got) != 600 || got[0] != "e0000" {
		t.Fatalf("the honest folder lists %d names from %q", len(got), got[0])
	}
}

// TestA61FolderPageWithheldRefusesTheListing: the server withholds a page
// of /big, or serves it empty or cut short, in a GetBlock answer or in a
// GetBlocks one (a listing asks for a folder's pages with one GetBlocks,
// SPEC.md §11.3.1) and in the VaultRead answer that brings the pages to a
// device reading the log from the start, or leaves it out of a GetBlocks
// answer, or labels another page with its id there. The listing, the walk of the tree (what
// sync compares) and a lookup of a name in that page are refused, never
// shown without that page's names; a lookup in another page reads that
// page alone and works (SECURITY.md A61).
func TestA61FolderPageWithheldRefusesTheListing(t *testing.T) {
	t.Parallel()
	w, av := pagedWorld(t)
	pages := pagesAt(t, av, "/big")
	last := len(pages) - 1
	inLast, inFirst := "/big/f0599", "/big/f0000"
	withheld := func([]byte) ([]byte, error) { return nil, status.Error(codes.NotFound, "no such block") }
	first := w.s.Block(t, w.org, w.vault, pages[0].ID)
	for name, tamper := range map[string]struct {
		// data is the last page as served, alone or in a GetBlocks answer.
		data func([]byte) ([]byte, error)
		// batch, if set, changes a GetBlocks answer whose block i is the
		// last page, instead of data.
		batch func(r *coffrev1.GetBlocksResponse, i int)
	}{
		"withheld":     {data: withheld},
		"empty":        {data: func([]byte) ([]byte, error) { return nil, nil }},
		"cut in half":  {data: func(d []byte) ([]byte, error) { return d[:len(d)/2], nil }},
		"one byte off": {data: func(d []byte) ([]byte, error) { return d[:len(d)-1], nil }},
		"left out of a GetBlocks answer": {data: withheld, batch: func(r *coffrev1.GetBlocksResponse, i int) {
			r.Blocks = append(r.Blocks[:i], r.Blocks[i+1:]...)
		}},
		"another page under its id": {data: func([]byte) ([]byte, error) { return first, nil },
			batch: func(r *coffrev1.GetBlocksResponse, i int) {
				r.Blocks[i].Data = first
				if i > 0 { // and its bytes under the id of the page before
					r.Blocks[i-1].Data, r.Blocks[i].Data = r.Blocks[i].Data, r.Blocks[i-1].Data
				}
			}},
	} {
		t.Run(name, func(t *testing.T) {
			defer w.s.ClearHooks()
			w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
				if err != nil {
					return resp, err
				}
				switch r := resp.(type) {
				case *coffrev1.VaultReadResponse:
					r.Pages = tamperPage(r.Pages, pages[last].ID, tamper.data)
				case *coffrev1.GetBlockResponse:
					if req.(*coffrev1.GetBlockRequest).GetBlockId() == pages[last].ID {
						if r.Data, err = tamper.data(r.Data); err != nil {
							return nil, err
						}
					}
				case *coffrev1.GetBlocksResponse:
					for i, b := range r.GetBlocks() {
						if b.GetBlockId() != pages[last].ID {
							continue
						}
						if tamper.batch != nil {
							tamper.batch(r, i)
						} else if b.Data, err = tamper.data(b.Data); err != nil {
							return nil, err
						}
						break
					}
				}
				return resp, nil
			})
			bv := w.freshReader(t)
			items, err := bv.List("/big", time.Time{})
			if err == nil || items != nil {
				t.Fatalf("a listing without its last page: %d names, %v; want an error and no names", len(items), err)
			}
			walked := 0
			if err := bv.Walk(func(string, workspace.Version) error { walked++; return nil }); err == nil {
				t.Fatalf("a walk without a page of /big ended without error after %d items", walked)
			}
			if _, err := bv.Stat(inLast, time.Time{}); err == nil {
				t.Fatalf("%s looked up without its page", inLast)
			}
			if _, err := bv.Stat(inFirst, time.Time{}); err != nil {
				t.Fatalf("%s, in another page: %v", inFirst, err)
			}
		})
	}
}

// tamperPage changes the page id among blocks with data, or leaves it out
// when data fails.
func tamperPage(blocks []*coffrev1.BlockData, id string, data func([]byte) ([]byte, error)) []*coffrev1.BlockData {
	for i, b := range blocks {
		if b.GetBlockId() != id {
			continue
		}
		d, err := data(b.Data)
		if err != nil {
			return append(blocks[:i], blocks[i+1:]...)
		}
		b.Data = d
		break
	}
	return blocks
}

// TestA61PagesWithTheLogChecked: the pages a VaultRead answer brings to a
// device reading the vault log from the start (SPEC.md §11.3.1) are
// checked as a GetBlocks answer is. Served empty, cut short, or as another
// page under the id of /big's last page, the listing is refused with
// workspace.ErrBadManifest; left out, or not sent at all, the device asks
// for it with GetBlocks and the listing is complete: the server can make
// it slower, never shorter (SECURITY.md A60, A61).
func TestA61PagesWithTheLogChecked(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		data     func(first, d []byte) ([]byte, error)
		complete bool
	}{
		"empty":                     {data: func(_, d []byte) ([]byte, error) { return nil, nil }},
		"cut in half":               {data: func(_, d []byte) ([]byte, error) { return d[:len(d)/2], nil }},
		"another page under its id": {data: func(first, _ []byte) ([]byte, error) { return first, nil }},
		"left out":                  {data: func(_, d []byte) ([]byte, error) { return nil, errors.New("left out") }, complete: true},
		"no pages at all":           {complete: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w, av := pagedWorld(t)
			pages := pagesAt(t, av, "/big")
			first := w.s.Block(t, w.org, w.vault, pages[0].ID)
			w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
				r, ok := resp.(*coffrev1.VaultReadResponse)
				if err != nil || !ok {
					return resp, err
				}
				if tc.data == nil {
					r.Pages = nil
				} else {
					r.Pages = tamperPage(r.Pages, pages[len(pages)-1].ID, func(d []byte) ([]byte, error) { return tc.data(first, d) })
				}
				return resp, nil
			})
			items, err := w.freshReader(t).List("/big", time.Time{})
			if tc.complete {
				if err != nil || len(items) != 600 {
					t.Fatalf("/big lists %d names, %v; want 600", len(items), err)
				}
				return
			}
			wantErr(t, err, workspace.ErrBadManifest)
			if items != nil {
				t.Fatalf("a refused listing still lists %d names", len(items))
			}
		})
	}
}
