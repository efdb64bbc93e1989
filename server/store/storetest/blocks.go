package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

// RunBlocks runs the conformance suite for store.BlockStore backends, each
// test on a fresh store from open, which the suite closes. Ids are those of
// coffre (8 to 64 lowercase letters and digits, certificate.ValidID); a
// backend refuses any other.
//
//	func TestBlocks(t *testing.T) {
//		storetest.RunBlocks(t, func(t *testing.T) store.BlockStore { ... a new, empty store ... })
//	}
func RunBlocks(t *testing.T, open func(t *testing.T) store.BlockStore) {
	if open == nil {
		t.Fatal("storetest: RunBlocks needs an open function")
	}
	s := blockSuite{open}
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"RoundTrip", s.testRoundTrip},
		{"IdempotentPut", s.testIdempotentPut},
		{"Exists", s.testBlockExists},
		{"NotFound", s.testBlockNotFound},
		{"TooLarge", s.testBlockTooLarge},
		{"BadIDs", s.testBadBlockIDs},
		{"Isolation", s.testBlockIsolation},
		{"CancelledContext", s.testBlockCancelledContext},
		{"ConcurrentDistinct", s.testConcurrentDistinctBlocks},
		{"ConcurrentSameBytes", s.testConcurrentSameBlock},
		{"ConcurrentOtherBytes", s.testConcurrentOtherBlocks},
		{"Collect", s.testCollect},
		{"Batches", s.testBatches},
	} {
		t.Run(tc.name, tc.test)
	}
}

type blockSuite struct {
	openFn func(t *testing.T) store.BlockStore
}

func (s blockSuite) open(t *testing.T) store.BlockStore {
	t.Helper()
	bs := s.openFn(t)
	t.Cleanup(func() {
		if err := bs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return bs
}

// blockRef names one block; the ids are valid unless a test says.
type blockRef struct{ org, vault, block string }

func (b blockRef) String() string {
	return fmt.Sprintf("block %q of vault %q of %q", b.block, b.vault, b.org)
}

var (
	orgA   = "orgaaaaa"
	orgB   = "orgbbbbb"
	vaultA = "vaultaaa"
	vaultB = "vaultbbb"
)

// blockID returns the n-th block id of a test.
func blockID(n int) string { return fmt.Sprintf("b%015d", n) }

// blockData returns size reproducible bytes that differ with seed.
func blockData(seed uint64, size int) []byte {
	b := make([]byte, size)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}).Read(b)
	return b
}

func mustPut(t *testing.T, bs store.BlockStore, b blockRef, data []byte) {
	t.Helper()
	if err := bs.PutBlock(t.Context(), b.org, b.vault, b.block, data); err != nil {
		t.Fatalf("PutBlock(%s, %d bytes): %v", b, len(data), err)
	}
}

// wantBlock fails the test unless b holds want.
func wantBlock(t *testing.T, bs store.BlockStore, what string, b blockRef, want []byte) {
	t.Helper()
	got, err := bs.GetBlock(t.Context(), b.org, b.vault, b.block)
	if err != nil {
		t.Fatalf("%s: GetBlock(%s): %v", what, b, err)
	}
	if d := diffBytes(got, want); d != "" {
		t.Fatalf("%s: GetBlock(%s) %s", what, b, d)
	}
}

// wantNoBlock fails the test unless b is missing.
func wantNoBlock(t *testing.T, bs store.BlockStore, what string, b blockRef) {
	t.Helper()
	got, err := bs.GetBlock(t.Context(), b.org, b.vault, b.block)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: GetBlock(%s) = %d bytes, error %v; want %v", what, b, len(got), err, store.ErrNotFound)
	}
}

// diffBytes says where got differs from want, or "".
func diffBytes(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("returned %d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("returned bytes that differ from what was put at offset %d (%#02x, want %#02x)", i, got[i], want[i])
		}
	}
	return ""
}

func (s blockSuite) testRoundTrip(t *testing.T) {
	bs := s.open(t)
	for i, data := range [][]byte{
		{},
		[]byte("\x00small\x00block\xff"),
		blockData(1, 1<<20+1),
		blockData(2, store.MaxBlockSize),
	} {
		b := blockRef{orgA, vaultA, blockID(i)}
		wantNoBlock(t, bs, "before PutBlock", b)
		put := bytes.Clone(data)
		mustPut(t, bs, b, put)
		// The store keeps the caller's bytes, not a reference to them.
		if len(put) > 0 {
			put[0]++
		}
		wantBlock(t, bs, fmt.Sprintf("after putting %d bytes and changing the slice given", len(data)), b, data)
		if got, _ := bs.GetBlock(t.Context(), b.org, b.vault, b.block); len(got) > 0 {
			got[0]++
		}
		wantBlock(t, bs, fmt.Sprintf("after putting %d bytes and changing a slice returned", len(data)), b, data)
	}
}

func (s blockSuite) testIdempotentPut(t *testing.T) {
	bs := s.open(t)
	for i, data := range [][]byte{{}, blockData(1, 1000)} {
		b := blockRef{orgA, vaultA, blockID(i)}
		mustPut(t, bs, b, data)
		if err := bs.PutBlock(t.Context(), b.org, b.vault, b.block, bytes.Clone(data)); err != nil {
			t.Fatalf("PutBlock(%s) again with the same %d bytes: %v, want success", b, len(data), err)
		}
		wantBlock(t, bs, "after putting the same bytes twice", b, data)
	}
}

func (s blockSuite) testBlockExists(t *testing.T) {
	bs := s.open(t)
	// Over one 64 KiB read, so that a compare that stops early is caught.
	data := blockData(1, 200_000)
	lastByte := bytes.Clone(data)
	lastByte[len(lastByte)-1]++
	firstByte := bytes.Clone(data)
	firstByte[0]++
	b := blockRef{orgA, vaultA, blockID(1)}
	mustPut(t, bs, b, data)
	for name, other := range map[string][]byte{
		"the last byte changed":  lastByte,
		"the first byte changed": firstByte,
		"one byte more":          append(bytes.Clone(data), 0),
		"one byte less":          data[:len(data)-1],
		"no bytes":               {},
	} {
		err := bs.PutBlock(t.Context(), b.org, b.vault, b.block, other)
		wantErr(t, fmt.Sprintf("PutBlock(%s) again with %s", b, name), err, store.ErrExists)
		wantBlock(t, bs, "after a refused PutBlock with "+name, b, data)
	}
	empty := blockRef{orgA, vaultA, blockID(2)}
	mustPut(t, bs, empty, nil)
	err := bs.PutBlock(t.Context(), empty.org, empty.vault, empty.block, []byte("x"))
	wantErr(t, fmt.Sprintf("PutBlock(%s) of one byte over an empty block", empty), err, store.ErrExists)
	wantBlock(t, bs, "after a refused PutBlock over an empty block", empty, nil)
}

func (s blockSuite) testBlockNotFound(t *testing.T) {
	bs := s.open(t)
	mustPut(t, bs, blockRef{orgA, vaultA, blockID(1)}, []byte("block"))
	for _, b := range []blockRef{
		{orgA, vaultA, blockID(2)},
		{orgA, vaultB, blockID(1)},
		{orgB, vaultA, blockID(1)},
		{orgA, vaultA, blockID(1) + "0"},
		{orgA, vaultA, blockID(1)[:len(blockID(1))-1]},
	} {
		wantNoBlock(t, bs, "after putting only "+blockRef{orgA, vaultA, blockID(1)}.String(), b)
	}
}

func (s blockSuite) testBlockTooLarge(t *testing.T) {
	bs := s.open(t)
	b := blockRef{orgA, vaultA, blockID(1)}
	err := bs.PutBlock(t.Context(), b.org, b.vault, b.block, make([]byte, store.MaxBlockSize+1))
	wantErr(t, fmt.Sprintf("PutBlock of MaxBlockSize+1 (%d) bytes", store.MaxBlockSize+1), err, store.ErrBlockTooLarge)
	wantNoBlock(t, bs, "after a refused PutBlock of MaxBlockSize+1 bytes", b)
}

// testBadBlockIDs checks that an id that is not a coffre id is refused,
// whichever id it is, and that one that looks like a path reaches no
// other block.
func (s blockSuite) testBadBlockIDs(t *testing.T) {
	bs := s.open(t)
	ctx := t.Context()
	good := blockID(1)
	bad := []string{
		"", "short", "abcdefg", strings.Repeat("a", 65), "ABCDEFGH", "abcdefgH", "abcd efgh", "abcdefgh\x00",
		"abcdéfgh", "abcdefgh\n", ".", "..", "../x", "a/b", "/abcdefgh", "abcdefgh/", "../abcdefgh",
		"abcdefgh/..", "..\\abcdefgh", "abcd-efgh", "abcd_efgh", "abcd.efgh",
	}
	for _, id := range bad {
		for _, b := range []blockRef{{id, vaultA, good}, {orgA, id, good}, {orgA, vaultA, id}} {
			err := bs.PutBlock(ctx, b.org, b.vault, b.block, []byte("bad"))
			if err == nil || errors.Is(err, store.ErrExists) {
				t.Fatalf("PutBlock(%s): error %v, want the id refused", b, err)
			}
			got, err := bs.GetBlock(ctx, b.org, b.vault, b.block)
			if err == nil || errors.Is(err, store.ErrNotFound) {
				t.Fatalf("GetBlock(%s) = %d bytes, error %v; want the id refused", b, len(got), err)
			}
		}
	}
	// Were these taken as paths they would land on a valid block.
	target := blockRef{orgA, vaultB, good}
	for _, b := range []blockRef{
		{orgA, vaultA + "/../" + vaultB, good},
		{orgA + "/" + vaultB, good[:2], good},
		{orgA, vaultB, good[:2] + "/" + good},
		{orgA, vaultB, "../" + good[:2] + "/" + good},
	} {
		if err := bs.PutBlock(ctx, b.org, b.vault, b.block, []byte("escaped")); err == nil {
			t.Errorf("PutBlock(%s) succeeded, want the id refused", b)
		}
	}
	wantNoBlock(t, bs, "after refused puts whose ids, as paths, name it", target)
}

func (s blockSuite) testBlockIsolation(t *testing.T) {
	bs := s.open(t)
	id := blockID(1)
	// The same block id in two vaults of one organisation and in the same
	// vault id of another; a second id sharing its first characters.
	blocks := []blockRef{{orgA, vaultA, id}, {orgA, vaultB, id}, {orgB, vaultA, id}, {orgA, vaultA, blockID(2)}}
	for i, b := range blocks {
		for _, later := range blocks[i:] {
			wantNoBlock(t, bs, fmt.Sprintf("after putting %d other blocks", i), later)
		}
		mustPut(t, bs, b, blockData(uint64(i), 100))
	}
	for i, b := range blocks {
		wantBlock(t, bs, "after putting the same id in other vaults", b, blockData(uint64(i), 100))
	}
}

func (s blockSuite) testBlockCancelledContext(t *testing.T) {
	bs := s.open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := blockRef{orgA, vaultA, blockID(1)}
	wantErr(t, "PutBlock with a cancelled context", bs.PutBlock(ctx, b.org, b.vault, b.block, []byte("x")), context.Canceled)
	wantNoBlock(t, bs, "after PutBlock with a cancelled context", b)
	mustPut(t, bs, b, []byte("x"))
	_, err := bs.GetBlock(ctx, b.org, b.vault, b.block)
	wantErr(t, "GetBlock with a cancelled context", err, context.Canceled)
}

// testConcurrentDistinctBlocks puts many blocks at once, into shared
// directories.
func (s blockSuite) testConcurrentDistinctBlocks(t *testing.T) {
	bs := s.open(t)
	const writers, each = 8, 16
	ref := func(w, i int) blockRef {
		return blockRef{[]string{orgA, orgB}[w%2], []string{vaultA, vaultB}[i%2], blockID(w*each + i)}
	}
	size := func(w, i int) int { return (w*each + i) * 997 }
	parallel(t, writers, func(w int) error {
		for i := range each {
			b := ref(w, i)
			if err := bs.PutBlock(t.Context(), b.org, b.vault, b.block, blockData(uint64(w*each+i), size(w, i))); err != nil {
				return fmt.Errorf("PutBlock(%s): %w", b, err)
			}
		}
		return nil
	})
	for w := range writers {
		for i := range each {
			wantBlock(t, bs, "after concurrent puts", ref(w, i), blockData(uint64(w*each+i), size(w, i)))
		}
	}
}

// testConcurrentSameBlock puts one block with the same bytes from many
// writers at once, as retried uploads may: every put succeeds.
func (s blockSuite) testConcurrentSameBlock(t *testing.T) {
	bs := s.open(t)
	const writers, rounds = 8, 4
	for r := range rounds {
		b := blockRef{orgA, vaultA, blockID(r)}
		data := blockData(uint64(r), 256<<10)
		parallel(t, writers, func(w int) error {
			if err := bs.PutBlock(t.Context(), b.org, b.vault, b.block, data); err != nil {
				return fmt.Errorf("writer %d: PutBlock(%s) with the same bytes as the others: %w", w, b, err)
			}
			return nil
		})
		wantBlock(t, bs, "after concurrent puts of the same bytes", b, data)
	}
}

// testConcurrentOtherBlocks puts one block id with other bytes of the same
// size from many writers at once: exactly one put wins and the block holds
// its bytes; every other put is ErrExists.
func (s blockSuite) testConcurrentOtherBlocks(t *testing.T) {
	bs := s.open(t)
	const writers, rounds = 8, 8
	for r := range rounds {
		b := blockRef{orgA, vaultA, blockID(r)}
		data := func(w int) []byte { return blockData(uint64(r*writers+w), 64<<10) }
		var mu sync.Mutex
		var winners []int
		parallel(t, writers, func(w int) error {
			err := bs.PutBlock(t.Context(), b.org, b.vault, b.block, data(w))
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, w)
				mu.Unlock()
			case !errors.Is(err, store.ErrExists):
				return fmt.Errorf("writer %d: PutBlock(%s) with bytes of its own: error %v, want none or %v", w, b, err, store.ErrExists)
			}
			return nil
		})
		if len(winners) != 1 {
			t.Fatalf("%d writers put %s, each with other bytes: %d succeeded (writers %v), want exactly 1", writers, b, len(winners), winners)
		}
		wantBlock(t, bs, fmt.Sprintf("after writer %d won the race", winners[0]), b, data(winners[0]))
	}
}

// parallel runs fn(0..n-1) at once and fails the test on the first error.
func parallel(t *testing.T, n int, fn func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for w := range n {
		wg.Go(func() {
			<-start
			if err := fn(w); err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// testCollect checks listing and deleting (store.BlockCollector), which
// block garbage collection rests on (SPEC.md §7.5): every block is listed,
// with its size and a time it was stored at or after, in its own vault and
// organisation only; a deleted block is gone and no longer listed, the
// others stay; deleting it again is no error.
func (s blockSuite) testCollect(t *testing.T) {
	bs := s.open(t)
	bc, ok := bs.(store.BlockCollector)
	if !ok {
		t.Fatalf("%T is not a store.BlockCollector: its blocks can't be collected", bs)
	}
	before := time.Now().Add(-time.Minute) // another machine's clock may lag a little
	blocks := map[blockRef][]byte{}
	for i, b := range []blockRef{{orgA, vaultA, blockID(1)}, {orgA, vaultA, blockID(2)}, {orgA, vaultB, blockID(3)}, {orgB, vaultA, blockID(4)}} {
		blocks[b] = blockData(uint64(i), 1000*(i+1))
		mustPut(t, bs, b, blocks[b])
	}
	after := time.Now().Add(time.Minute)
	vaults, err := bc.BlockVaults(t.Context(), orgA)
	if err != nil || !sameSet(vaults, []string{vaultA, vaultB}) {
		t.Fatalf("BlockVaults(%s) = %v, %v; want %s and %s", orgA, vaults, err, vaultA, vaultB)
	}
	if vaults, err := bc.BlockVaults(t.Context(), "orgccccc"); err != nil || len(vaults) != 0 {
		t.Fatalf("BlockVaults of an organisation without blocks = %v, %v; want none", vaults, err)
	}
	list := func(org, vault string) map[string]store.BlockInfo {
		t.Helper()
		got := map[string]store.BlockInfo{}
		err := bc.ListBlocks(t.Context(), org, vault, func(b store.BlockInfo) error {
			if _, dup := got[b.ID]; dup {
				return fmt.Errorf("block %s listed twice", b.ID)
			}
			got[b.ID] = b
			return nil
		})
		if err != nil {
			t.Fatalf("ListBlocks(%s, %s): %v", org, vault, err)
		}
		return got
	}
	for _, v := range []struct{ org, vault string }{{orgA, vaultA}, {orgA, vaultB}, {orgB, vaultA}, {orgB, vaultB}} {
		got := list(v.org, v.vault)
		want := 0
		for b, data := range blocks {
			if b.org != v.org || b.vault != v.vault {
				continue
			}
			want++
			info, ok := got[b.block]
			switch {
			case !ok:
				t.Fatalf("ListBlocks(%s, %s) = %v: %s is missing", v.org, v.vault, got, b)
			case info.Size != int64(len(data)):
				t.Fatalf("ListBlocks lists %s with %d bytes, want %d", b, info.Size, len(data))
			case info.Stored.Before(before) || info.Stored.After(after):
				t.Fatalf("ListBlocks lists %s as stored at %s, not between %s and %s", b, info.Stored, before, after)
			}
		}
		if len(got) != want {
			t.Fatalf("ListBlocks(%s, %s) lists %d blocks, want %d: %v", v.org, v.vault, len(got), want, got)
		}
	}

	gone := blockRef{orgA, vaultA, blockID(1)}
	if err := bc.DeleteBlocks(t.Context(), orgA, vaultA, []string{blockID(2), "../../etc"}); !errors.Is(err, store.ErrInvalidID) {
		t.Fatalf("DeleteBlocks of a block and a path: %v, want %v", err, store.ErrInvalidID)
	}
	wantBlock(t, bs, "after DeleteBlocks refused a path beside it", blockRef{orgA, vaultA, blockID(2)}, blocks[blockRef{orgA, vaultA, blockID(2)}])
	for range 2 {
		if err := bc.DeleteBlocks(t.Context(), gone.org, gone.vault, []string{gone.block}); err != nil {
			t.Fatalf("DeleteBlocks(%s): %v", gone, err)
		}
	}
	wantNoBlock(t, bs, "after DeleteBlocks", gone)
	if got := list(orgA, vaultA); len(got) != 1 || got[blockID(2)].ID == "" {
		t.Fatalf("after deleting %s, ListBlocks lists %v; want %s alone", gone, got, blockID(2))
	}
	for b, data := range blocks {
		if b != gone {
			wantBlock(t, bs, "after deleting another block", b, data)
		}
	}
	// A collected id may be put again (a client's retry): the store
	// takes it like any block.
	mustPut(t, bs, gone, blocks[gone])
	wantBlock(t, bs, "put again after DeleteBlocks", gone, blocks[gone])
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// testBatches checks PutBlocks (store.BlockBatcher), for a store that has
// it: each block of a batch behaves as PutBlock would, whether it was put
// before alone or in a batch, small (4 KiB) or not (200 kB), and a batch
// block is listed and collected like any.
func (s blockSuite) testBatches(t *testing.T) {
	bs := s.open(t)
	bb, ok := bs.(store.BlockBatcher)
	if !ok {
		t.Skipf("%T has no PutBlocks: the server puts a batch's blocks one by one", bs)
	}
	bc, ok := bs.(store.BlockCollector)
	if !ok {
		t.Fatalf("%T is not a store.BlockCollector: its blocks can't be collected", bs)
	}
	ctx := t.Context()
	var batch []store.BlockData
	want := map[string][]byte{}
	for i, size := range []int{4096, 0, 200_000, 4096, 100} {
		b := store.BlockData{ID: blockID(i), Data: blockData(uint64(i), size)}
		batch = append(batch, b)
		want[b.ID] = bytes.Clone(b.Data)
	}
	if err := bb.PutBlocks(ctx, orgA, vaultA, batch); err != nil {
		t.Fatalf("PutBlocks of %d blocks: %v", len(batch), err)
	}
	batch[0].Data[0]++ // the store keeps its own copy
	for id, data := range want {
		wantBlock(t, bs, "after PutBlocks and a change to the slice given", blockRef{orgA, vaultA, id}, data)
		wantNoBlock(t, bs, "in another vault after PutBlocks", blockRef{orgA, vaultB, id})
	}
	batch[0].Data[0]--
	if err := bb.PutBlocks(ctx, orgA, vaultA, batch); err != nil {
		t.Fatalf("PutBlocks of the same batch again: %v, want success (a retry)", err)
	}
	for _, b := range batch {
		mustPut(t, bs, blockRef{orgA, vaultA, b.ID}, bytes.Clone(b.Data))
		other := append(bytes.Clone(b.Data), 1)
		err := bs.PutBlock(ctx, orgA, vaultA, b.ID, other)
		wantErr(t, fmt.Sprintf("PutBlock of %s (%d bytes, put in a batch) with other bytes", b.ID, len(b.Data)), err, store.ErrExists)
		err = bb.PutBlocks(ctx, orgA, vaultA, []store.BlockData{{ID: blockID(90), Data: []byte("new")}, {ID: b.ID, Data: other}})
		wantErr(t, fmt.Sprintf("PutBlocks with %s (%d bytes) and other bytes", b.ID, len(b.Data)), err, store.ErrExists)
		wantBlock(t, bs, "after refused puts of other bytes", blockRef{orgA, vaultA, b.ID}, want[b.ID])
	}

	// A block put alone, then in a batch: the same bytes succeed, others
	// are refused.
	alone := blockRef{orgA, vaultA, blockID(20)}
	aloneData := blockData(20, 4096)
	mustPut(t, bs, alone, aloneData)
	if err := bb.PutBlocks(ctx, alone.org, alone.vault, []store.BlockData{{ID: alone.block, Data: aloneData}}); err != nil {
		t.Fatalf("PutBlocks of a block put alone before, same bytes: %v", err)
	}
	err := bb.PutBlocks(ctx, alone.org, alone.vault, []store.BlockData{{ID: alone.block, Data: blockData(21, 4096)}})
	wantErr(t, "PutBlocks of a block put alone before, other bytes", err, store.ErrExists)
	wantBlock(t, bs, "after a refused batch", alone, aloneData)
	want[alone.block] = aloneData
	if b90, err := bs.GetBlock(ctx, orgA, vaultA, blockID(90)); err == nil {
		want[blockID(90)] = b90 // a refused batch may have stored some of its blocks, whole
	}

	listed := map[string]int64{}
	err = bc.ListBlocks(ctx, orgA, vaultA, func(b store.BlockInfo) error {
		if _, dup := listed[b.ID]; dup {
			return fmt.Errorf("block %s listed twice", b.ID)
		}
		listed[b.ID] = b.Size
		return nil
	})
	if err != nil {
		t.Fatalf("ListBlocks: %v", err)
	}
	if len(listed) != len(want) {
		t.Fatalf("ListBlocks lists %v, want the %d blocks put", listed, len(want))
	}
	for id, data := range want {
		if size, ok := listed[id]; !ok || size != int64(len(data)) {
			t.Fatalf("ListBlocks lists %s with %d bytes (listed: %v), want %d", id, size, ok, len(data))
		}
	}
	if vaults, err := bc.BlockVaults(ctx, orgA); err != nil || !sameSet(vaults, []string{vaultA}) {
		t.Fatalf("BlockVaults = %v, %v; want %s", vaults, err, vaultA)
	}
	// Blocks of a batch deleted at once: small and large ones (the
	// embedded store keeps them apart, SPEC.md §7.4) and one never put.
	gone := blockRef{orgA, vaultA, blockID(0)}
	deleted := []string{gone.block, blockID(1), blockID(2), blockID(77)}
	if err := bc.DeleteBlocks(ctx, orgA, vaultA, deleted); err != nil {
		t.Fatalf("DeleteBlocks of batch blocks: %v", err)
	}
	for _, id := range deleted {
		wantNoBlock(t, bs, "after DeleteBlocks of batch blocks", blockRef{orgA, vaultA, id})
		delete(want, id)
	}
	for id, data := range want {
		wantBlock(t, bs, "after DeleteBlocks of other blocks", blockRef{orgA, vaultA, id}, data)
	}
	listed = map[string]int64{}
	err = bc.ListBlocks(ctx, orgA, vaultA, func(b store.BlockInfo) error {
		listed[b.ID] = b.Size
		return nil
	})
	if err != nil || len(listed) != len(want) {
		t.Fatalf("after DeleteBlocks, ListBlocks lists %v, %v; want the %d blocks left", listed, err, len(want))
	}
	if err := bb.PutBlocks(ctx, gone.org, gone.vault, []store.BlockData{{ID: gone.block, Data: blockData(99, 10)}}); err != nil {
		t.Fatalf("PutBlocks of a collected id: %v", err)
	}
	wantBlock(t, bs, "put again in a batch after DeleteBlocks", gone, blockData(99, 10))

	// Concurrent batches of distinct blocks all land.
	parallel(t, 8, func(w int) error {
		var batch []store.BlockData
		for i := range 32 {
			batch = append(batch, store.BlockData{ID: blockID(1000 + 100*w + i), Data: blockData(uint64(w*100+i), 4096)})
		}
		return bb.PutBlocks(ctx, orgB, vaultB, batch)
	})
	for w := range 8 {
		for i := range 32 {
			wantBlock(t, bs, "after concurrent PutBlocks", blockRef{orgB, vaultB, blockID(1000 + 100*w + i)}, blockData(uint64(w*100+i), 4096))
		}
	}
}
