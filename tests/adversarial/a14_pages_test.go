package adversarial

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"google.golang.org/protobuf/proto"
)

// TestA14PagedLogChecked: a device reads the log in pages and asks for the
// next page while it verifies the current one (SPEC.md §4.3). Each page
// must still begin with the entry the device verified last: a page that
// begins with another entry is a fork, an altered entry on a later page
// fails the read, and neither leaves anything but whole verified pages
// stored; an honest read afterwards reaches the head.
func TestA14PagedLogChecked(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "alice", "bob")
	alice := hostile.Bootstrap(t, s, d["alice"])
	bob := hostile.Enrol(t, alice, d["bob"], "user", "bob@example.org", certificate.ProfileAdmin)
	mustSync(t, bob)
	for i := range 8 {
		if _, err := alice.CreateVault(bg(), fmt.Sprintf("vault %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	head := alice.Head()
	org := alice.Identity().OrganisationID
	log := s.Log(t, org)
	start := bob.Head()
	if head.Position < start.Position+8 {
		t.Fatalf("log at %d, Bob at %d: too short to page", head.Position, start.Position)
	}
	// Pages of three entries.
	s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.GetLogRequest); ok {
			r.Limit = 3
		}
		return req
	})
	boundary := start.Position + 2 // the first entry of Bob's second page
	// Another entry at a page boundary.
	{
		s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
			r, ok := resp.(*coffrev1.GetLogResponse)
			if !ok || req.(*coffrev1.GetLogRequest).GetFrom() != boundary || len(r.Entries) < 2 {
				return resp, err
			}
			r = proto.Clone(r).(*coffrev1.GetLogResponse)
			r.Entries[0].Data = r.Entries[1].Data // a genuine entry, not the one verified there
			return r, err
		})
		wantErr(t, bob.Sync(bg()), certificate.ErrFork)
		bob = onHonestChain(t, alice, bob, d["bob"], boundary)
	}
	// An altered entry on a later page.
	{
		late := head.Position - 1
		s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
			r, ok := resp.(*coffrev1.GetLogResponse)
			if !ok {
				return resp, err
			}
			r = proto.Clone(r).(*coffrev1.GetLogResponse)
			for _, e := range r.Entries {
				if e.Position == late {
					e.Data = bytes.Clone(e.Data)
					e.Data[len(e.Data)-1] ^= 1
				}
			}
			return r, err
		})
		wantErr(t, bob.Sync(bg()), client.ErrBadLog)
		bob = onHonestChain(t, alice, bob, d["bob"], late-1)
	}
	s.RewriteUnary(nil)
	mustSync(t, bob)
	if got := bob.Head(); !sameHead(got, head) {
		t.Fatalf("after an honest paged read Bob is at %d, want %d", got.Position, head.Position)
	}
	if len(log) != int(head.Position) {
		t.Fatalf("the server's log has %d entries, head %d", len(log), head.Position)
	}
}

// onHonestChain checks that the device's verified head, in memory and on
// disk, is an entry of the honest log (whole verified pages, nothing of
// the page that failed) at or below max, and returns the reopened session.
func onHonestChain(t *testing.T, honest, s *client.Session, dir string, max uint64) *client.Session {
	t.Helper()
	check := func(where string, got certificate.Head) {
		t.Helper()
		want, ok := honest.Organisation().HashAt(got.Position)
		if got.Position > max || !ok || !bytes.Equal(want, got.Hash) {
			t.Errorf("%s: verified head %d %x is not an entry of the honest log at or below %d", where, got.Position, got.Hash, max)
		}
	}
	check("in memory", s.Head())
	r := hostile.Reopen(t, s, dir)
	check("on disk", r.Head())
	return r
}
