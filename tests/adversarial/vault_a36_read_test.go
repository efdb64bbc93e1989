package adversarial

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestA36HeadsWithTheLogCheckedAsGetHead: a writer's sync before a write
// asks for the server's signed heads with the log (VaultRead with_head),
// and its commit checks them exactly as GetHead's answer (SPEC.md §4.4),
// asking GetHead only when they are no longer fresh. What the server puts
// there instead:
//   - a statement whose signature does not verify, or signed for another
//     vault, or with a certificate other than the connection's: the write
//     is refused (client.ErrNotFresh), nothing is appended;
//   - a statement signed 6 minutes ago: not fresh, so the writer asks
//     GetHead, and writes when that one is fresh, or is refused when it
//     is stale too;
//   - a statement whose vault hash is another at the writer's head:
//     client.ErrServerMisbehaved, kept as proof.
//
// SECURITY.md A36.
func TestA36HeadsWithTheLogCheckedAsGetHead(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a36-read", member{"bob", certificate.ProfileStandard, certificate.RoleContributor})
	put(t, w.open(t, "alice"), "/a.txt", []byte("alice writes the vault's checkpoint"))
	bv := w.open(t, "bob")
	view := func(age time.Duration) *coffrev1.HeadStatement {
		org, vault := w.s.LogState(t, w.org).Head, w.s.VaultHead(t, w.org, w.vault)
		return &coffrev1.HeadStatement{FormatVersion: 1, OrganisationId: w.org,
			OrganisationPosition: org.Position, OrganisationHash: org.Hash,
			VaultId: w.vault, VaultPosition: vault.Position, VaultHash: vault.Hash,
			TimeMs: time.Now().Add(-age).UnixMilli()}
	}
	// withRead replaces the heads VaultRead signs (GetHead's answer too
	// when getHead is not nil) and returns the calls a put made, and its
	// error.
	n := 0
	try := func(withRead, getHead func() *coffrev1.GetHeadResponse) ([]string, error) {
		t.Helper()
		w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
			switch r := resp.(type) {
			case *coffrev1.VaultReadResponse:
				if err == nil && r.Head != nil {
					r.Head = withRead()
				}
			case *coffrev1.GetHeadResponse:
				if err == nil && getHead != nil {
					return getHead(), nil
				}
			}
			return resp, err
		})
		defer w.s.ClearHooks()
		rec := w.s.Record()
		defer w.s.StopRecording()
		n++
		before := w.s.VaultHead(t, w.org, w.vault)
		_, err := bv.Put(bg(), "/b.txt", bytes.NewReader([]byte{byte(n)}), nil)
		if after := w.s.VaultHead(t, w.org, w.vault); err != nil && !sameHead(before, after) {
			t.Fatalf("a refused write moved the vault head from %d to %d", before.Position, after.Position)
		}
		var calls []string
		for _, c := range rec.Calls() {
			calls = append(calls, c.Method)
		}
		return calls, err
	}

	// Honest: the heads come with the log, no GetHead.
	calls, err := try(func() *coffrev1.GetHeadResponse { return w.s.SignHead(t, view(0)) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(calls, coffrev1.CoffreService_GetHead_FullMethodName) {
		t.Fatalf("a write with fresh heads from VaultRead made the calls %v: GetHead too", calls)
	}

	badSignature := func() *coffrev1.GetHeadResponse {
		h := w.s.SignHead(t, view(0))
		h.Signature[len(h.Signature)/2] ^= 1
		return h
	}
	otherVault := func() *coffrev1.GetHeadResponse {
		st := view(0)
		st.VaultId = "another-vault"
		return w.s.SignHead(t, st)
	}
	otherCertificate := func() *coffrev1.GetHeadResponse {
		h := w.s.SignHead(t, view(0))
		h.Certificate = nil
		return h
	}
	for name, h := range map[string]func() *coffrev1.GetHeadResponse{
		"a bad signature": badSignature, "another vault": otherVault, "no certificate": otherCertificate,
	} {
		if _, err := try(h, nil); !errors.Is(err, client.ErrNotFresh) {
			t.Fatalf("heads with %s from VaultRead: %v, want %v", name, err, client.ErrNotFresh)
		}
	}

	stale := func() *coffrev1.GetHeadResponse { return w.s.SignHead(t, view(6*time.Minute)) }
	calls, err = try(stale, nil)
	if err != nil {
		t.Fatalf("stale heads from VaultRead, fresh ones from GetHead: %v", err)
	}
	if !slices.Contains(calls, coffrev1.CoffreService_GetHead_FullMethodName) {
		t.Fatalf("stale heads from VaultRead: the calls %v, want a GetHead", calls)
	}
	if _, err := try(stale, stale); !errors.Is(err, client.ErrNotFresh) {
		t.Fatalf("stale heads from VaultRead and GetHead: %v, want %v", err, client.ErrNotFresh)
	}

	forked := func() *coffrev1.GetHeadResponse {
		st := view(0)
		st.VaultHash = bytes.Clone(st.VaultHash)
		st.VaultHash[0] ^= 1
		return w.s.SignHead(t, st)
	}
	if _, err := try(forked, nil); !errors.Is(err, client.ErrServerMisbehaved) {
		t.Fatalf("heads of another vault branch from VaultRead: %v, want %v", err, client.ErrServerMisbehaved)
	}
}
