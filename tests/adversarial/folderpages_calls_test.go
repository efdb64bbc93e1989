package adversarial

import (
	"testing"
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
)

// blockCalls counts the GetBlocks and GetBlock calls of a recording, and
// returns the GetBlocks requests.
func blockCalls(calls []hostile.Call) (batches []*coffrev1.GetBlocksRequest, single int) {
	for _, c := range calls {
		switch c.Method {
		case coffrev1.CoffreService_GetBlocks_FullMethodName:
			batches = append(batches, c.Request.(*coffrev1.GetBlocksRequest))
		case coffrev1.CoffreService_GetBlock_FullMethodName:
			single++
		}
	}
	return batches, single
}

// TestListingFetchesPagesInOneCall: a device that reads the vault log
// from the start gets every folder's pages with it, in one VaultRead
// answer, and lists /big without asking for a block (SPEC.md §11.3.1); a
// device that holds the log but none of /big's pages lists it with one
// GetBlocks call naming every page, and no GetBlock; a device that has
// the pages in its block cache asks for none.
func TestListingFetchesPagesInOneCall(t *testing.T) {
	t.Parallel()
	w, av := pagedWorld(t)
	pages := pagesAt(t, av, "/big")

	rec := w.s.Record()
	bv := w.freshReader(t) // reads the log from position 1
	if got := list(t, bv, "/big"); len(got) != 600 {
		t.Fatalf("/big lists %d names, want 600", len(got))
	}
	calls := rec.Calls()
	w.s.StopRecording()
	offered := map[string]bool{}
	reads := 0
	for _, c := range calls {
		if c.Method != coffrev1.CoffreService_VaultRead_FullMethodName {
			continue
		}
		reads++
		if !c.Request.(*coffrev1.VaultReadRequest).GetWithPages() {
			t.Fatal("a device reading the vault log from the start did not ask for its pages")
		}
		for _, b := range c.Response.(*coffrev1.VaultReadResponse).GetPages() {
			offered[b.GetBlockId()] = true
		}
	}
	for _, p := range append(pages, pagesAt(t, av, "/other")...) {
		if !offered[p.ID] {
			t.Fatalf("page %s was not in the VaultRead answer (%d reads, %d pages)", p.ID, reads, len(offered))
		}
	}
	if batches, single := blockCalls(calls); len(batches) != 0 || single != 0 {
		t.Fatalf("a fresh device's listing of %d pages made %d GetBlocks and %d GetBlock calls, want none", len(pages), len(batches), single)
	}

	// This device holds the log now: it reads on from its head, and the
	// pages come with GetBlocks.
	bv = w.freshReader(t)
	if _, err := bv.Stat("/", time.Time{}); err != nil {
		t.Fatal(err)
	}
	rec = w.s.Record()
	if got := list(t, bv, "/big"); len(got) != 600 {
		t.Fatalf("/big lists %d names, want 600", len(got))
	}
	batches, single := blockCalls(rec.Calls())
	w.s.StopRecording()
	if len(batches) != 1 || single != 0 {
		t.Fatalf("a listing of %d pages made %d GetBlocks and %d GetBlock calls, want 1 and 0", len(pages), len(batches), single)
	}
	if n := len(batches[0].GetBlockIds()); n != len(pages) {
		t.Fatalf("the GetBlocks named %d blocks, want the %d pages", n, len(pages))
	}

	cached := w.open(t, "bob") // its block cache holds the pages now
	rec = w.s.Record()
	if got := list(t, cached, "/big"); len(got) != 600 {
		t.Fatalf("/big lists %d names from the cache, want 600", len(got))
	}
	for _, c := range rec.Calls() {
		if c.Method == coffrev1.CoffreService_GetBlocks_FullMethodName || c.Method == coffrev1.CoffreService_GetBlock_FullMethodName {
			t.Fatalf("a listing with every page in the block cache still called %s", c.Method)
		}
	}
	w.s.StopRecording()
}
