package adversarial

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestA36FrozenWriterRefuses: the server keeps bob, a contributor, on an
// old view (it withholds the organisation entries that remove carol and
// rotate the key, and the vault entries after them) so that he goes on
// encrypting to carol's key. A write needs the server's signed heads,
// fresh within client.FreshnessWindow of bob's clock and naming exactly
// his view (SPEC.md §4.4):
//   - a replayed statement of his (true) view, signed 4 minutes ago: he
//     writes (within the window, before anything changed);
//   - the same view signed 6 minutes ago: client.ErrNotFresh;
//   - the server's real signed heads (the removal is there): ErrNotFresh;
//   - a signed lie within the window passes the check: what remains
//     possible (the honest server still refuses the entry, under an old
//     key);
//   - a signed head with another hash at bob's own head position, or one
//     beyond the log the server later shows: proof, reported by
//     `audit --verify` (client.ErrServerMisbehaved at write time).
//
// SECURITY.md A36.
func TestA36FrozenWriterRefuses(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a36",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"carol", certificate.ProfileStandard, certificate.RoleReader})
	put(t, w.open(t, "alice"), "/a.txt", []byte("before"))
	bv := w.open(t, "bob")
	put(t, bv, "/b0.txt", []byte("a normal write, with the server's real heads"))

	org := w.s.LogState(t, w.org).Head
	vault := w.s.VaultHead(t, w.org, w.vault)
	view := func(age time.Duration) *coffrev1.HeadStatement {
		return &coffrev1.HeadStatement{FormatVersion: 1, OrganisationId: w.org,
			OrganisationPosition: org.Position, OrganisationHash: org.Hash,
			VaultId: w.vault, VaultPosition: vault.Position, VaultHash: vault.Hash,
			TimeMs: time.Now().Add(-age).UnixMilli()}
	}
	// headAnswer replaces GetHead's answer (nil: the server's own).
	var headAnswer func() *coffrev1.GetHeadResponse
	// freeze answers GetHead with headAnswer and, if hide, withholds
	// every entry after org and vault.
	freeze := func(hide bool) {
		w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
			switch {
			case err != nil:
			case hide && method == coffrev1.CoffreService_GetLog_FullMethodName:
				r := resp.(*coffrev1.GetLogResponse)
				r.Entries, r.HeadPosition = upTo(r.Entries, org.Position), min(r.HeadPosition, org.Position)
			case hide && method == coffrev1.CoffreService_VaultRead_FullMethodName:
				r := resp.(*coffrev1.VaultReadResponse)
				r.Entries, r.HeadPosition = upTo(r.Entries, vault.Position), min(r.HeadPosition, vault.Position)
			case method == coffrev1.CoffreService_GetHead_FullMethodName && headAnswer != nil:
				return headAnswer(), nil
			}
			return resp, err
		})
	}
	defer w.s.ClearHooks()
	freeze(false)

	headAnswer = func() *coffrev1.GetHeadResponse { return w.s.SignHead(t, view(4*time.Minute)) }
	put(t, bv, "/b1.txt", []byte("within the window"))
	vault = w.s.VaultHead(t, w.org, w.vault)

	// Carol is removed and the key rotated, all hidden from bob.
	w.s.ClearHooks()
	if err := w.sess["alice"].UnshareVault(bg(), w.vault, "carol@example.org"); err != nil {
		t.Fatal(err)
	}
	put(t, w.open(t, "alice"), "/a2.txt", []byte("after carol left"))
	freeze(true)
	bv = w.open(t, "bob") // his frozen view opens as before
	write := func() error {
		_, err := bv.Put(bg(), "/b2.txt", bytes.NewReader([]byte("for carol's key")), nil)
		return err
	}

	headAnswer = func() *coffrev1.GetHeadResponse { return w.s.SignHead(t, view(6*time.Minute)) }
	if err := write(); !errors.Is(err, client.ErrNotFresh) {
		t.Fatalf("a write with heads signed 6 minutes ago: %v, want %v", err, client.ErrNotFresh)
	}
	headAnswer = nil
	if err := write(); !errors.Is(err, client.ErrNotFresh) {
		t.Fatalf("a write while the server signs the real heads: %v, want %v", err, client.ErrNotFresh)
	}
	// Within the window the server can lie: the check passes and the
	// entry goes out (the honest server refuses it: its key is old).
	headAnswer = func() *coffrev1.GetHeadResponse { return w.s.SignHead(t, view(0)) }
	if err := write(); err == nil || errors.Is(err, client.ErrNotFresh) || errors.Is(err, client.ErrServerMisbehaved) {
		t.Fatalf("a write under a fresh signed lie: %v, want the server's refusal", err)
	}

	// Signed heads the chain contradicts.
	forked := view(0)
	forked.OrganisationHash = append([]byte(nil), org.Hash...)
	forked.OrganisationHash[0] ^= 1
	headAnswer = func() *coffrev1.GetHeadResponse { return w.s.SignHead(t, forked) }
	if err := write(); !errors.Is(err, client.ErrServerMisbehaved) {
		t.Fatalf("a write under a signed head of another branch: %v, want %v", err, client.ErrServerMisbehaved)
	}
	beyond := view(0)
	beyond.OrganisationPosition += 50
	headAnswer = func() *coffrev1.GetHeadResponse { return w.s.SignHead(t, beyond) }
	if err := write(); !errors.Is(err, client.ErrNotFresh) {
		t.Fatalf("a write under a signed head beyond bob's view: %v, want %v", err, client.ErrNotFresh)
	}

	w.s.ClearHooks()
	rep, err := w.sess["bob"].VerifyAudit(bg())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("audit: %s %q", rep.Problem, rep.ServerMisbehaviour)
	if rep.Consistent || len(rep.ServerMisbehaviour) != 2 {
		t.Fatalf("audit --verify: consistent %v, %d proofs %q, want the two signed heads the log contradicts", rep.Consistent, len(rep.ServerMisbehaviour), rep.ServerMisbehaviour)
	}
	// Unfrozen, bob catches up and writes.
	mustSync(t, w.sess["bob"])
	put(t, w.open(t, "bob"), "/b3.txt", []byte("fresh again"))
}

func upTo(entries []*coffrev1.LogEntry, upto uint64) []*coffrev1.LogEntry {
	var out []*coffrev1.LogEntry
	for _, e := range entries {
		if e.Position <= upto {
			out = append(out, e)
		}
	}
	return out
}
