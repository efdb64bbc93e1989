package adversarial

import (
	"testing"
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestListingFetchesPagesInOneCall: a device that has none of /big lists
// it with one GetBlocks call naming every page, and no GetBlock (SPEC.md
// §11.3.1); a device that has the pages in its block cache asks for none.
func TestListingFetchesPagesInOneCall(t *testing.T) {
	t.Parallel()
	w, av := pagedWorld(t)
	pages := pagesAt(t, av, "/big")
	bv := w.freshReader(t)
	if _, err := bv.Stat("/", time.Time{}); err != nil { // the log, read before counting
		t.Fatal(err)
	}
	rec := w.s.Record()
	if got := list(t, bv, "/big"); len(got) != 600 {
		t.Fatalf("/big lists %d names, want 600", len(got))
	}
	calls := rec.Calls()
	w.s.StopRecording()
	var batches []*coffrev1.GetBlocksRequest
	single := 0
	for _, c := range calls {
		switch c.Method {
		case coffrev1.CoffreService_GetBlocks_FullMethodName:
			batches = append(batches, c.Request.(*coffrev1.GetBlocksRequest))
		case coffrev1.CoffreService_GetBlock_FullMethodName:
			single++
		}
	}
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
