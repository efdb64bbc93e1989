package adversarial

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
)

// TestUnshareIsFourCalls: an owner who is up to date unshares a member
// with one GetLog (the sync before signing), one AppendCertificates (the
// removal and the rotation), then the checkpoint: one VaultRead that
// brings the server's signed heads, which the checkpoint's freshness
// check uses (SPEC.md §4.4), and one VaultAppend. The vault log is not
// read a second time before the checkpoint, and the rotation is not read
// back. The checkpoint is the server's newest vault entry, and the member
// who stayed opens the vault under the new key.
func TestUnshareIsFourCalls(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "calls",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/kept.txt", []byte("written before the unshare"))
	mustSync(t, w.sess["alice"])
	got := w.methodsOf(t, func() error {
		return w.sess["alice"].UnshareVault(bg(), w.vault, "bob@example.org")
	})
	want := []string{
		coffrev1.CoffreService_GetLog_FullMethodName,
		coffrev1.CoffreService_AppendCertificates_FullMethodName,
		coffrev1.CoffreService_VaultRead_FullMethodName,
		coffrev1.CoffreService_VaultAppend_FullMethodName,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("an unshare made the calls %v, want %v", got, want)
	}
	cv := w.open(t, "carol")
	if _, info, err := w.sess["carol"].FindVault(w.vault); err != nil || info.KeyIndex != 2 || len(info.Members) != 2 {
		t.Fatalf("carol sees key %d and %d members after the rotation (%v), want key 2 and 2 members", info.KeyIndex, len(info.Members), err)
	}
	if cv.NeedsCheckpoint() {
		t.Fatal("the vault log lacks the checkpoint after the rotation")
	}
	if got := get(t, cv, "/kept.txt"); string(got) != "written before the unshare" {
		t.Fatalf("carol reads %q", got)
	}
}

// TestUnshareReadAheadChecked: the checkpoint's read of the vault log goes
// out while the rotation is stored locally (client/readahead.go); its
// answer is checked as any read's. The server answers it with another
// entry at alice's verified vault head: the unshare's checkpoint fails as
// a fork, no checkpoint is sent, and alice's stored vault head does not
// move (SECURITY.md A31).
func TestUnshareReadAheadChecked(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "ahead",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/kept.txt", []byte("written before the unshare"))
	mustSync(t, w.sess["alice"])
	head := av.Log().Head
	stored := w.s.VaultLog(t, w.org, w.vault)
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		r, ok := resp.(*coffrev1.VaultReadResponse)
		if !ok || err != nil || len(r.GetEntries()) == 0 || r.GetEntries()[0].GetPosition() != head.Position {
			return resp, err
		}
		forked := proto.Clone(r).(*coffrev1.VaultReadResponse)
		forked.Entries[0].Data = stored[head.Position-2] // the entry before, at the head's position
		return forked, nil
	})
	rec := w.s.Record()
	err := w.sess["alice"].UnshareVault(bg(), w.vault, "bob@example.org")
	calls := rec.Calls()
	w.s.ClearHooks()
	w.s.StopRecording()
	wantErr(t, err, certificate.ErrFork)
	for _, c := range calls {
		if c.Method == coffrev1.CoffreService_VaultAppend_FullMethodName {
			t.Fatal("a checkpoint was sent after a forked read")
		}
	}
	w.vaultUnchanged(t, "alice", nil, head)
}

// TestUnshareRefusedReadsNoVault: the read sent ahead goes out only once
// the server has appended the rotation; an append it refuses is followed
// by no read of the vault log.
func TestUnshareRefusedReadsNoVault(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "refused",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	mustSync(t, w.sess["alice"])
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method == coffrev1.CoffreService_AppendCertificates_FullMethodName {
			return nil, wire.Status(wire.ErrCertificateRefused)
		}
		return resp, err
	})
	rec := w.s.Record()
	err := w.sess["alice"].UnshareVault(bg(), w.vault, "bob@example.org")
	calls := rec.Calls()
	w.s.ClearHooks()
	w.s.StopRecording()
	if err == nil {
		t.Fatal("the unshare succeeded with its append refused")
	}
	for _, c := range calls {
		if c.Method == coffrev1.CoffreService_VaultRead_FullMethodName {
			t.Fatal("the vault log was read after a refused append")
		}
	}
}
