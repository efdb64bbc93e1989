package synctest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/workspace"
)

// The server is hostile (SECURITY.md): whatever it changes in a remote
// change, sync must not write it into the user's folder; and it can't make
// a device delete anything without an entry a member signed.

// wantUntouched checks bob's folder is exactly what it was, with no
// temporary file, and that his journal still has the old bases.
func wantUntouched(t *testing.T, b *engineDev, before map[string]entry, bases map[string]string) {
	t.Helper()
	after := readTree(t, b.dir)
	if diff := diffTrees(before, after, "before", "after"); diff != "" {
		t.Errorf("bob's folder changed after a refused remote change:\n%s", diff)
	}
	if tmp := temporaries(after); len(tmp) > 0 {
		t.Errorf("temporary files left in bob's folder: %v", tmp)
	}
	all, err := b.journal.All()
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range bases {
		if all[p].Content != content {
			t.Errorf("bob's journal moved for %s after a refused change", p)
		}
	}
}

func journalContents(t *testing.T, d *engineDev) map[string]string {
	t.Helper()
	all, err := d.journal.All()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, b := range all {
		out[p] = b.Content
	}
	return out
}

// TestSyncNeverWritesUnverifiedData: alice changes files; the server
// tampers with what bob fetches — a stored block, a block swapped for
// another of the same vault, a vault entry's bytes. Each time bob's cycle
// fails, his folder keeps the previous content (no partial or tampered
// file, no temporary), and his journal does not move; once the server
// serves the real data, bob gets alice's changes.
func TestSyncNeverWritesUnverifiedData(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	s := w.hs
	write(t, a, "report.txt", "version 1")
	writeRandomFile(t, filepath.Join(a.dir, "big.bin"), 3<<20, 1)
	mustConverge(t, a, b)

	// 1. A stored block of a new version is rewritten on the server's disk.
	write(t, a, "report.txt", "version 2, which the server will damage")
	write(t, a, "new.txt", "a new file, damaged too")
	a.mustCycle(t)
	_, v := w.remoteTree(t)
	type damaged struct {
		id   string
		data []byte
	}
	var saved []damaged
	for _, p := range []string{"/report.txt", "/new.txt"} {
		ver, err := v.Stat(p, timeZero)
		if err != nil {
			t.Fatal(err)
		}
		for _, blk := range ver.Manifest.Blocks {
			orig := s.Block(t, w.org, w.vault, blk.ID)
			saved = append(saved, damaged{blk.ID, orig})
			bad := bytes.Clone(orig)
			bad[len(bad)/2] ^= 0x40
			s.WriteBlock(t, w.org, w.vault, blk.ID, bad)
		}
	}
	before, bases := readTree(t, b.dir), journalContents(t, b)
	if _, err := b.cycle(); !errors.Is(err, workspace.ErrBadBlock) && !strings.Contains(errString(err), "does not match") {
		t.Errorf("bob's cycle over damaged blocks: %v, want %v", err, workspace.ErrBadBlock)
	}
	wantUntouched(t, b, before, bases)
	for _, d := range saved {
		s.WriteBlock(t, w.org, w.vault, d.id, d.data)
	}
	if _, err := b.cycle(); err != nil {
		t.Fatalf("bob's cycle once the real blocks are back: %v (a refused block kept in the cache? see TestTamperedBlockDoesNotPoisonCache)", err)
	}
	if got, _ := read(t, b, "report.txt"); got != "version 2, which the server will damage" {
		t.Errorf("report.txt on bob = %q after the honest server came back", got)
	}

	// 2. The server answers a block with another valid block of the vault.
	write(t, a, "report.txt", "version 3")
	f, err := os.OpenFile(filepath.Join(a.dir, "big.bin"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("small edit"), 1<<20+12345)
	f.Close()
	a.mustCycle(t)
	_, v = w.remoteTree(t)
	old, err := v.Stat("/new.txt", timeZero)
	if err != nil {
		t.Fatal(err)
	}
	other := s.Block(t, w.org, w.vault, old.Manifest.Blocks[0].ID)
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method == coffrev1.CoffreService_GetBlock_FullMethodName && err == nil {
			return &coffrev1.GetBlockResponse{Data: other}, nil
		}
		return resp, err
	})
	before, bases = readTree(t, b.dir), journalContents(t, b)
	if _, err := b.cycle(); err == nil {
		t.Errorf("bob's cycle accepted blocks swapped by the server")
	}
	wantUntouched(t, b, before, bases)
	s.ClearHooks()
	if _, err := b.cycle(); err != nil {
		t.Fatalf("bob's cycle once the server is honest again: %v", err)
	}
	sameTrees(t, a, b)

	// 3. The server alters the bytes of the vault entry that carries the
	// change (its signature no longer verifies).
	write(t, a, "report.txt", "version 4")
	write(t, a, "another.txt", "created with version 4")
	os.Remove(filepath.Join(a.dir, "new.txt"))
	a.mustCycle(t)
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		r, ok := resp.(*coffrev1.VaultReadResponse)
		if method != coffrev1.CoffreService_VaultRead_FullMethodName || !ok || err != nil || len(r.GetEntries()) == 0 {
			return resp, err
		}
		r = proto.Clone(r).(*coffrev1.VaultReadResponse)
		last := r.Entries[len(r.Entries)-1]
		last.Data[len(last.Data)-3] ^= 1
		return r, nil
	})
	before, bases = readTree(t, b.dir), journalContents(t, b)
	if _, err := b.cycle(); err == nil {
		t.Errorf("bob's cycle accepted a tampered vault entry")
	} else {
		t.Logf("tampered entry refused: %v", err)
	}
	wantUntouched(t, b, before, bases)
	s.ClearHooks()
	mustConverge(t, a, b)
	if got, _ := read(t, b, "report.txt"); got != "version 4" {
		t.Errorf("report.txt on bob = %q at the end", got)
	}
}

// TestTamperedBlockDoesNotPoisonCache: the server answers one download
// with a damaged block, then honestly. The refused block must not stay
// anywhere on the device: the next cycle gets the file.
func TestTamperedBlockDoesNotPoisonCache(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	s := w.hs
	write(t, a, "report.txt", "alice's report")
	a.mustCycle(t)
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		r, ok := resp.(*coffrev1.GetBlockResponse)
		if method != coffrev1.CoffreService_GetBlock_FullMethodName || !ok || err != nil {
			return resp, err
		}
		bad := bytes.Clone(r.GetData())
		bad[len(bad)/2] ^= 1
		return &coffrev1.GetBlockResponse{Data: bad}, nil
	})
	if _, err := b.cycle(); !errors.Is(err, workspace.ErrBadBlock) && !strings.Contains(errString(err), "does not match") {
		t.Fatalf("bob's cycle over a damaged block: %v, want %v", err, workspace.ErrBadBlock)
	}
	if _, ok := read(t, b, "report.txt"); ok {
		t.Fatal("a damaged file was written into bob's folder")
	}
	s.ClearHooks()
	if _, err := b.cycle(); err != nil {
		t.Fatalf("once the server answered a block with damaged bytes, bob can't download the file from an "+
			"honest server: %v (a refused block must not stay in the block cache: client/vault.go "+
			"remote.BlockVerified/BlockRejected)", err)
	}
	if got, _ := read(t, b, "report.txt"); got != "alice's report" {
		t.Errorf("report.txt on bob = %q", got)
	}
}

// TestSyncNoDeleteWithoutSignedTombstone (SECURITY.md A13): bob has synced
// a file; the server then pretends it never existed — it truncates the
// vault log to before the entry that added it, or answers VaultRead with an
// older head — which, if believed, would look like a deletion. Bob's cycle
// reports a rollback and deletes nothing; his journal does not move. Nor
// does a real, signed deletion entry that the server replays after the
// file was created again delete anything.
func TestSyncNoDeleteWithoutSignedTombstone(t *testing.T) {
	t.Parallel()
	w, a, b := twoDevices(t)
	s := w.hs
	write(t, a, "keep.txt", "kept")
	mustConverge(t, a, b)
	write(t, a, "hidden.txt", "the server will hide this one")
	os.MkdirAll(filepath.Join(a.dir, "hidden-folder"), 0o755)
	mustConverge(t, a, b)
	if _, ok := read(t, b, "hidden.txt"); !ok {
		t.Fatal("bob did not get hidden.txt")
	}
	entries := s.VaultLog(t, w.org, w.vault)
	t.Logf("vault log: %d entries", len(entries))

	// 1. A rollback in the responses only.
	head := uint64(len(entries))
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if _, ok := resp.(*coffrev1.VaultReadResponse); method != coffrev1.CoffreService_VaultRead_FullMethodName || !ok || err != nil {
			return resp, err
		}
		return &coffrev1.VaultReadResponse{HeadPosition: head - 2}, nil
	})
	before, bases := readTree(t, b.dir), journalContents(t, b)
	_, err := b.cycle()
	if !errors.Is(err, certificate.ErrRollback) {
		t.Errorf("bob's cycle against a shorter log: %v, want %v", err, certificate.ErrRollback)
	}
	wantUntouched(t, b, before, bases)
	s.ClearHooks()

	// 2. The stored log itself is truncated to before the entries that
	// added the file and the folder.
	s.TruncateVaultLog(t, w.org, w.vault, head-2)
	for range 2 {
		_, err = b.cycle()
		if !errors.Is(err, certificate.ErrRollback) {
			t.Errorf("bob's cycle against a truncated log: %v, want %v", err, certificate.ErrRollback)
		}
		wantUntouched(t, b, before, bases)
	}
	// Alice's device refuses the same way (she wrote the entries).
	beforeA := readTree(t, a.dir)
	if _, err := a.cycle(); !errors.Is(err, certificate.ErrRollback) {
		t.Errorf("alice's cycle against a truncated log: %v, want %v", err, certificate.ErrRollback)
	}
	if diff := diffTrees(beforeA, readTree(t, a.dir), "before", "after"); diff != "" {
		t.Errorf("alice's folder changed:\n%s", diff)
	}

	// 3. The server puts the real log back: everything is as it was.
	s.EditVaultLog(t, w.org, w.vault, func([][]byte) [][]byte { return entries })
	mustConverge(t, a, b)
	if _, ok := read(t, b, "hidden.txt"); !ok {
		t.Error("hidden.txt is gone from bob's folder")
	}

	// 4. A real, signed deletion replayed: alice deleted replayed.txt and
	// created it again; the server appends a copy of her deletion entry.
	write(t, a, "replayed.txt", "first life")
	mustConverge(t, a, b)
	os.Remove(filepath.Join(a.dir, "replayed.txt"))
	mustConverge(t, a, b)
	tombstone := s.VaultLog(t, w.org, w.vault)
	deletion := tombstone[len(tombstone)-1]
	write(t, a, "replayed.txt", "second life")
	mustConverge(t, a, b)
	good := s.VaultLog(t, w.org, w.vault)
	s.AppendVaultRaw(t, w.org, w.vault, deletion)
	before, bases = readTree(t, b.dir), journalContents(t, b)
	if _, err := b.cycle(); err == nil {
		t.Errorf("bob's cycle accepted a replayed deletion entry")
	} else {
		t.Logf("replayed deletion refused: %v", err)
	}
	wantUntouched(t, b, before, bases)
	if got, _ := read(t, b, "replayed.txt"); got != "second life" {
		t.Errorf("replayed.txt on bob = %q, want the second life", got)
	}
	s.EditVaultLog(t, w.org, w.vault, func([][]byte) [][]byte { return good })
	mustConverge(t, a, b)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
