package adversarial

import (
	"bytes"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// TestA36SignedHeadKeptWithEveryWrite: the signed head that let a write go
// ahead is kept whether the server accepts the entry (then in the same
// local transaction as the entry) or refuses it (SPEC.md §4.4 "Kept
// statements"): dave's write is accepted, bob's refused (the server
// receives his entry damaged), and once the server shows an organisation
// log shorter than those heads, each device's `audit --verify` reports
// the head it kept as the server's misbehaviour. SECURITY.md A36.
func TestA36SignedHeadKeptWithEveryWrite(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a36-kept",
		member{"bob", certificate.ProfileStandard, certificate.RoleContributor},
		member{"dave", certificate.ProfileStandard, certificate.RoleContributor})
	put(t, w.open(t, "alice"), "/a.txt", []byte("alice writes the vault's checkpoint"))
	dv, bv := w.open(t, "dave"), w.open(t, "bob")

	put(t, dv, "/d.txt", []byte("accepted"))
	w.s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.VaultAppendRequest); ok {
			r.Entry = bytes.Clone(r.Entry)
			r.Entry[len(r.Entry)-1] ^= 1
		}
		return req
	})
	if _, err := bv.Put(bg(), "/b.txt", bytes.NewReader([]byte("refused")), nil); err == nil {
		t.Fatal("the server stored a damaged entry")
	}
	w.s.ClearHooks()

	// The server now shows the organisation log without its newest entry.
	org := w.s.LogState(t, w.org).Head
	w.s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if r, ok := resp.(*coffrev1.GetLogResponse); ok && err == nil {
			r.Entries, r.HeadPosition = upTo(r.Entries, org.Position-1), min(r.HeadPosition, org.Position-1)
		}
		return resp, err
	})
	defer w.s.ClearHooks()
	for _, name := range []string{"dave", "bob"} {
		rep, err := w.sess[name].VerifyAudit(bg())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.ServerMisbehaviour) != 1 || !strings.Contains(rep.ServerMisbehaviour[0], "now shows") {
			t.Fatalf("%s's audit --verify: %q, want the signed head of the write at organisation head %d", name, rep.ServerMisbehaviour, org.Position)
		}
	}
}
