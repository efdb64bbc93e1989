package blockdir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/boltstore"
	"github.com/coffre/coffre/server/store/storetest"
)

// mustOpen opens a store in a new directory.
func mustOpen(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "blocks"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunBlocks(t, func(t *testing.T) store.BlockStore { return mustOpen(t) })
}

// TestConformanceSmallBlocks runs the suite on the store as the embedded
// server has it: the small blocks of batches in a real bbolt store.
func TestConformanceSmallBlocks(t *testing.T) {
	storetest.RunBlocks(t, func(t *testing.T) store.BlockStore { return mustOpenSmall(t) })
}

// mustOpenSmall opens a store in a new directory that keeps small blocks
// in a new bbolt store beside it.
func mustOpenSmall(tb testing.TB) *Store {
	tb.Helper()
	s := mustOpen(tb)
	small, err := boltstore.Open(filepath.Join(tb.TempDir(), "coffre.db"), boltstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { small.Close() })
	s.UseSmallBlocks(small)
	return s
}

// TestLayout checks where blocks land, that nothing else is left in the
// directory (no temporary file after puts, won, lost or refused), and that
// refused ids wrote nothing anywhere.
func TestLayout(t *testing.T) {
	parent := t.TempDir()
	s, err := Open(filepath.Join(parent, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	puts := []struct {
		org, vault, block, data string
		ok                      bool
	}{
		{"orgaaaaa", "vaultaaa", "ab000001", "one", true},
		{"orgaaaaa", "vaultaaa", "ab000001", "one", true},   // again, same bytes
		{"orgaaaaa", "vaultaaa", "ab000001", "two", false},  // other bytes
		{"orgaaaaa", "vaultaaa", "ab000002", "", true},      // empty, same fan-out directory
		{"orgaaaaa", "vaultbbb", "cd000001", "three", true}, // other vault
		{"orgaaaaa", "../../..", "ab000003", "escape", false},
		{"../escap", "vaultaaa", "ab000003", "escape", false},
		{"orgaaaaa", "vaultaaa", "../../../../escaped", "escape", false},
	}
	for _, p := range puts {
		if err := s.PutBlock(ctx, p.org, p.vault, p.block, []byte(p.data)); (err == nil) != p.ok {
			t.Fatalf("PutBlock(%s, %s, %s, %q): error %v, want success %v", p.org, p.vault, p.block, p.data, err, p.ok)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	s.PutBlock(cancelled, "orgaaaaa", "vaultaaa", "ef000001", []byte("cancelled"))

	want := map[string]string{
		"blocks/orgaaaaa/vaultaaa/ab/ab000001": "one",
		"blocks/orgaaaaa/vaultaaa/ab/ab000002": "",
		"blocks/orgaaaaa/vaultbbb/cd/cd000001": "three",
	}
	err = filepath.WalkDir(parent, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(parent, path)
		data, ok := want[filepath.ToSlash(rel)]
		switch {
		case strings.HasPrefix(d.Name(), "."):
			t.Errorf("temporary file %s left behind", rel)
		case !ok:
			t.Errorf("unexpected file %s", rel)
		default:
			if got, err := os.ReadFile(path); err != nil || string(got) != data {
				t.Errorf("%s holds %q, %v; want %q", rel, got, err, data)
			}
			if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", rel, info.Mode().Perm())
			}
			delete(want, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range want {
		t.Errorf("%s missing", rel)
	}
}

// TestNoTempFilesAfterConcurrentPuts races puts of one id, won and lost,
// then checks that only the block is left in its directory.
func TestNoTempFilesAfterConcurrentPuts(t *testing.T) {
	s := mustOpen(t)
	done := make(chan error)
	for w := range 8 {
		go func() { done <- s.PutBlock(t.Context(), "orgaaaaa", "vaultaaa", "ab000001", []byte{byte(w % 2)}) }()
	}
	for range 8 {
		<-done
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, "orgaaaaa", "vaultaaa", "ab"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "ab000001" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("after concurrent puts the block's directory holds %q, want only ab000001", names)
	}
}

func TestOpen(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil {
		t.Error("Open of a regular file succeeded")
	}
	// A store opened again sees the blocks put before.
	dir := filepath.Join(t.TempDir(), "blocks")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlock(t.Context(), "orgaaaaa", "vaultaaa", "ab000001", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetBlock(t.Context(), "orgaaaaa", "vaultaaa", "ab000001"); err != nil || string(got) != "kept" {
		t.Fatalf("GetBlock after reopening = %q, %v; want %q", got, err, "kept")
	}
}

// TestConcurrentPutsOneDirectory: puts of different blocks into one
// directory share its syncs (syncDir's group commit); each is stored whole
// and none is left waiting; the group's bookkeeping is forgotten after.
func TestConcurrentPutsOneDirectory(t *testing.T) {
	s := mustOpen(t)
	const n = 64
	done := make(chan error)
	for i := range n {
		go func() {
			done <- s.PutBlock(t.Context(), "orgaaaaa", "vaultaaa", fmt.Sprintf("ab%06d", i), []byte(strings.Repeat("x", i+1)))
		}()
	}
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got, err := s.GetBlock(t.Context(), "orgaaaaa", "vaultaaa", fmt.Sprintf("ab%06d", i))
		if err != nil || string(got) != strings.Repeat("x", i+1) {
			t.Fatalf("block %d: %d bytes, %v", i, len(got), err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(s.dir, "orgaaaaa", "vaultaaa", "ab"))
	if len(entries) != n {
		t.Errorf("%d files in the directory, want %d (a temporary file left?)", len(entries), n)
	}
	s.dirSyncs.Range(func(k, _ any) bool {
		t.Errorf("directory %v still has a sync group after every put returned", k)
		return true
	})
}

// TestPutBlocks: a batch spread over several directories is stored whole
// with no temporary file left; a block already there with other bytes
// fails the call with store.ErrExists, keeps its bytes, and does not stop
// the batch's other blocks from being stored; a retry of those succeeds.
func TestPutBlocks(t *testing.T) {
	s := mustOpen(t)
	var blocks []store.BlockData
	for i := range 40 {
		blocks = append(blocks, store.BlockData{ID: fmt.Sprintf("%02x%06d", i%3, i), Data: []byte(strings.Repeat("y", i))})
	}
	if err := s.PutBlocks(t.Context(), "orgaaaaa", "vaultaaa", blocks); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		got, err := s.GetBlock(t.Context(), "orgaaaaa", "vaultaaa", b.ID)
		if err != nil || string(got) != string(b.Data) {
			t.Fatalf("block %s: %q, %v; want %q", b.ID, got, err, b.Data)
		}
	}
	files := 0
	filepath.WalkDir(s.dir, func(_ string, d fs.DirEntry, _ error) error {
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if files != len(blocks) {
		t.Errorf("%d files in the store, want %d (a temporary file left?)", files, len(blocks))
	}

	clash := []store.BlockData{{ID: "cd000001", Data: []byte("new")}, {ID: blocks[5].ID, Data: []byte("other bytes")}, {ID: "cd000002", Data: []byte("new too")}}
	if err := s.PutBlocks(t.Context(), "orgaaaaa", "vaultaaa", clash); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a batch with other bytes under a stored id: %v, want store.ErrExists", err)
	}
	if got, _ := s.GetBlock(t.Context(), "orgaaaaa", "vaultaaa", blocks[5].ID); string(got) != string(blocks[5].Data) {
		t.Fatalf("the stored block now holds %q", got)
	}
	clash = append(clash[:1], clash[2])
	if err := s.PutBlocks(t.Context(), "orgaaaaa", "vaultaaa", clash); err != nil {
		t.Fatalf("retrying the batch's other blocks: %v", err)
	}
}

// TestSmallBlocksLayout checks that the small blocks of a batch make no
// file (they are in the bbolt store: one write for the batch) while its
// larger blocks are files, and that a store without a small-block store
// makes a file of every block.
func TestSmallBlocksLayout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		open      func(testing.TB) *Store
		wantFiles int
	}{
		{"small blocks apart", mustOpenSmall, 1},
		{"files only", mustOpen, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			var batch []store.BlockData
			for i := range 16 {
				batch = append(batch, store.BlockData{ID: fmt.Sprintf("small%03d", i), Data: []byte(strings.Repeat("x", 4096+i))})
			}
			batch = append(batch, store.BlockData{ID: "large000", Data: make([]byte, SmallBlockMax+1)})
			if err := s.PutBlocks(t.Context(), "orgaaaaa", "vaultaaa", batch); err != nil {
				t.Fatal(err)
			}
			files := 0
			err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					files++
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if files != tc.wantFiles {
				t.Fatalf("%d files in the block directory after a batch of 16 small blocks and one large, want %d", files, tc.wantFiles)
			}
			for _, b := range batch {
				got, err := s.GetBlock(t.Context(), "orgaaaaa", "vaultaaa", b.ID)
				if err != nil || string(got) != string(b.Data) {
					t.Fatalf("GetBlock(%s) = %d bytes, %v; want the %d put", b.ID, len(got), err, len(b.Data))
				}
			}
		})
	}
}

// TestGatedPutNamesOnlyReserved: a block whose reservation is refused is
// not stored, nor anything left of it in its directory (its bytes were
// written to an unnamed file while the reservation ran); one whose
// reservation succeeds is named only after it (SPEC.md §7.4).
func TestGatedPutNamesOnlyReserved(t *testing.T) {
	for _, small := range []bool{false, true} {
		s := mustOpen(t)
		if small {
			s = mustOpenSmall(t)
		}
		ctx := t.Context()
		data := make([]byte, 3*directAlign+100)
		refused := func() error { return fmt.Errorf("reserving: %w", store.ErrQuotaExceeded) }
		err := s.PutBlockGated(ctx, "orgaaaaa", "vaultaaa", "ab000001", data, refused)
		if !errors.Is(err, store.ErrQuotaExceeded) {
			t.Fatalf("gated put refused its reservation: %v, want ErrQuotaExceeded", err)
		}
		if _, err := s.GetBlock(ctx, "orgaaaaa", "vaultaaa", "ab000001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("block refused its reservation: GetBlock %v, want ErrNotFound", err)
		}
		if entries, _ := os.ReadDir(filepath.Join(s.dir, "orgaaaaa", "vaultaaa", "ab")); len(entries) != 0 {
			t.Fatalf("a refused block left %d entries in its directory", len(entries))
		}

		calls := 0
		named := func() error {
			calls++
			if _, err := s.GetBlock(ctx, "orgaaaaa", "vaultaaa", "ab000002"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("block named while its storage was being reserved: GetBlock %v", err)
			}
			return nil
		}
		if err := s.PutBlockGated(ctx, "orgaaaaa", "vaultaaa", "ab000002", data, named); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetBlock(ctx, "orgaaaaa", "vaultaaa", "ab000002"); err != nil || len(got) != len(data) {
			t.Fatalf("reserved block: %d bytes, %v", len(got), err)
		}
		if calls != 1 {
			t.Fatalf("reserve called %d times, want 1", calls)
		}
	}
}
