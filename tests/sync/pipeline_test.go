package synctest

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// TestUploadOverlapsTheCommit: a cycle uploading 600 small files (two
// commits of at most 512) stores the blocks of its second batch while the
// first batch's entry is still being appended: the server holds alice's
// first VaultAppend until a block that entry does not name has arrived,
// which without the pipeline comes only after that append returns (then
// the hold ends after 30 s and the test fails). The cycle reads the
// vault log once, when it opens the vault, not once per batch; the journal
// holds every file's base when it returns; every file reaches bob.
func TestUploadOverlapsTheCommit(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	const n = 600
	for i := range n {
		write(t, a, fmt.Sprintf("note-%03d.txt", i), strings.Repeat(fmt.Sprint(i), 100))
	}
	var (
		mu         sync.Mutex
		stored     = map[string]bool{}
		held       bool
		overlapped bool
		arrived    = make(chan struct{}, 1)
	)
	store := func(ids ...string) {
		mu.Lock()
		for _, id := range ids {
			stored[id] = true
		}
		mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
	}
	w.hs.RewriteRequest(func(method string, req any) any {
		switch r := req.(type) {
		case *coffrev1.PutBlocksRequest:
			for _, blk := range r.GetBlocks() {
				store(blk.GetBlockId())
			}
		case *coffrev1.PutBlockRequest:
			store(r.GetBlockId())
		case *coffrev1.VaultAppendRequest:
			mu.Lock()
			first := !held
			held = true
			mu.Unlock()
			if !first {
				return req
			}
			named := map[string]bool{}
			for _, id := range r.GetBlockIds() {
				named[id] = true
			}
			deadline := time.After(30 * time.Second)
			for {
				mu.Lock()
				for id := range stored {
					overlapped = overlapped || !named[id]
				}
				done := overlapped
				mu.Unlock()
				if done {
					return req
				}
				select {
				case <-arrived:
				case <-deadline:
					return req
				}
			}
		}
		return req
	})
	rec := w.hs.Record()
	res := a.mustCycle(t)
	calls := rec.Calls()
	w.hs.StopRecording()
	w.hs.ClearHooks()
	if res.Uploaded != n {
		t.Fatalf("alice's cycle uploaded %d files, want %d (%+v)", res.Uploaded, n, res)
	}
	mu.Lock()
	if !overlapped {
		t.Error("no block of the second batch was stored while the first batch's entry was appended: the batches did not overlap")
	}
	mu.Unlock()
	if got := count(calls, coffrev1.CoffreService_VaultAppend_FullMethodName); got != 2 {
		t.Errorf("%d vault appends for %d files, want 2 (batches of 512)", got, n)
	}
	if bases, err := a.journal.All(); err != nil || len(bases) != n {
		t.Errorf("alice's journal holds %d bases after the cycle (%v), want %d", len(bases), err, n)
	}

	// An idle cycle opens the vault as the busy one did: the difference in
	// vault reads is what the uploads cost.
	rec = w.hs.Record()
	if idle := a.mustCycle(t); idle.Busy() {
		t.Fatalf("alice's second cycle was not idle: %+v", idle)
	}
	idleCalls := rec.Calls()
	w.hs.StopRecording()
	reads, idleReads := count(calls, coffrev1.CoffreService_VaultRead_FullMethodName), count(idleCalls, coffrev1.CoffreService_VaultRead_FullMethodName)
	t.Logf("vault reads: %d in the cycle of 2 batches, %d in an idle cycle", reads, idleReads)
	if reads != idleReads {
		t.Errorf("the cycle that uploaded 2 batches read the vault log %d times, an idle one %d: a read per batch", reads, idleReads)
	}
	b.mustCycle(t)
	sameTrees(t, a, b)
}

// TestUploadAgainstTheStateSeen: UploadFiles replaces the version the
// vault held when the device last synced, not a newer one it never saw:
// bob writes the file after alice's view was taken, and alice's commit is
// refused as a conflict (bob's version stays), where a Put, which syncs
// first, would replace it.
func TestUploadAgainstTheStateSeen(t *testing.T) {
	t.Parallel()
	_, a, b := twoDevices(t)
	ctx := bg()
	open := func(d *engineDev) *workspace.Vault {
		t.Helper()
		v, release, err := d.eng.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release)
		return v
	}
	av := open(a)
	if _, err := av.Put(ctx, "/report.txt", strings.NewReader("alice, version 1"), nil); err != nil {
		t.Fatal(err)
	}
	bv := open(b)
	if _, err := bv.Put(ctx, "/report.txt", strings.NewReader("bob, version 2"), nil); err != nil {
		t.Fatal(err)
	}
	up, err := av.UploadFiles(ctx, []workspace.PutItem{{Path: "/report.txt", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("alice, version 2")), nil
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := av.CommitFiles(ctx, up); !errors.Is(err, workspace.ErrWriteConflict) {
		t.Fatalf("alice's commit over bob's unseen version: %v, want ErrWriteConflict", err)
	}
	var got strings.Builder
	if _, err := av.WriteTo(ctx, "/report.txt", timeZero, &got, nil); err != nil {
		t.Fatal(err)
	}
	if got.String() != "bob, version 2" {
		t.Fatalf("the vault holds %q, want bob's version", got.String())
	}
}
