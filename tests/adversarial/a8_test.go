package adversarial

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/wire"
)

// mitm is a server in the middle of an enrolment: it gives each side an
// ephemeral key of its own instead of the other side's, and opens the
// claimer's commitment with its own nonce, so that both sides complete the
// key exchange — with the server (SPEC.md §5 steps 1–3).
type mitm struct {
	mu      sync.Mutex
	nonce   []byte // the nonce the server committed to towards the greeter
	swapped int    // keys replaced
	err     error
}

func (m *mitm) rewrite(method string, req any) any {
	r, ok := req.(*coffrev1.RelayPostRequest)
	if method != coffrev1.CoffreService_RelayPost_FullMethodName || !ok || r.Abort {
		return req
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	key, err := crypto.GenerateBoxKey()
	if err != nil {
		m.err = err
		return req
	}
	pub := key.Public()
	var msg proto.Message
	switch {
	case r.Side == coffrev1.RelaySide_RELAY_SIDE_CLAIMER && r.Step == 1:
		var h coffrev1.ClaimerHello
		if m.err = proto.Unmarshal(r.Payload, &h); m.err != nil {
			return req
		}
		m.nonce = crypto.RandomBytes(32)
		commit := crypto.LabeledSum("enrolment-commitment", m.nonce)
		h.EphemeralKey, h.NonceCommitment = pub[:], commit[:]
		msg = &h
	case r.Side == coffrev1.RelaySide_RELAY_SIDE_GREETER && r.Step == 1:
		var h coffrev1.GreeterHello
		if m.err = proto.Unmarshal(r.Payload, &h); m.err != nil {
			return req
		}
		h.EphemeralKey, h.Nonce = pub[:], crypto.RandomBytes(32)
		msg = &h
	case r.Side == coffrev1.RelaySide_RELAY_SIDE_CLAIMER && r.Step == 2:
		msg = &coffrev1.ClaimerReveal{Nonce: m.nonce}
	default:
		return req
	}
	if r.Payload, m.err = proto.Marshal(msg); m.err == nil && r.Step == 1 {
		m.swapped++
	}
	return req
}

// sasAborted checks how an enrolment under a man in the middle ended: each
// side either saw the codes differ or was told the other side aborted, and
// at least one saw the mismatch.
func sasAborted(t *testing.T, res hostile.EnrolResult) {
	t.Helper()
	t.Logf("codes shown: greeter %s, claimer %s; greeter: %v; claimer: %v", res.GreeterCode, res.ClaimerCode, res.GreetErr, res.ClaimErr)
	for side, err := range map[string]error{"greeter": res.GreetErr, "claimer": res.ClaimErr} {
		if !errors.Is(err, client.ErrSASMismatch) && !errors.Is(err, wire.ErrEnrolmentAborted) {
			t.Fatalf("%s ended with %v, want %v or %v", side, err, client.ErrSASMismatch, wire.ErrEnrolmentAborted)
		}
	}
	if !errors.Is(res.GreetErr, client.ErrSASMismatch) && !errors.Is(res.ClaimErr, client.ErrSASMismatch) {
		t.Fatal("neither side saw the codes differ")
	}
	if res.GreeterCode == "" || res.ClaimerCode == "" {
		t.Fatal("a side never showed its code")
	}
	if res.Session != nil {
		t.Fatal("the claimer got a device")
	}
	if len(res.Claimers) != 0 {
		t.Fatal("the greeter's person was asked to let someone in")
	}
}

// noDevice checks that nothing was left in a claimer's directory.
func noDevice(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"device.age", "state.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Fatalf("%s left in the claimer's directory", f)
		}
	}
}

// TestA8EphemeralKeySwapAbortsEnrolment: a server in the middle of an
// enrolment (both ephemeral keys swapped, the commitment opened with its
// own nonce) makes the two screens show codes that don't match what the
// other side computed: the people, reading each other the codes as shown,
// abort on both sides. Nothing is enrolled, the user's seal key is not sent,
// each attempt counts, and 3 attempts burn the invitation (SECURITY.md A8,
// SPEC.md §5).
func TestA8EphemeralKeySwapAbortsEnrolment(t *testing.T) {
	t.Parallel()
	s := hostile.Start(t)
	d := dirs(t, "admin", "laptop", "bob", "forged")
	admin := hostile.Bootstrap(t, s, d["admin"])
	org := admin.Identity().OrganisationID
	seal := hostile.ReadDevice(t, d["admin"]).SealKey.Bytes()

	// A device enrolment: the one where the greeter would hand over the
	// user's private seal key at the end.
	m := &mitm{}
	s.RewriteRequest(m.rewrite)
	rec := s.Record()
	l, inv := hostile.Invite(t, admin, "device", "", 0)
	before := admin.Head()
	res := hostile.RunEnrolment(t, admin, l, inv, d["laptop"], hostile.EnrolOptions{})
	s.StopRecording()
	if m.err != nil || m.swapped != 2 {
		t.Fatalf("the man in the middle did not swap both keys (%d, %v)", m.swapped, m.err)
	}
	sasAborted(t, res)
	noDevice(t, d["laptop"])
	if got := headOf(t, s, org); got != before.Position {
		t.Fatalf("the log grew to %d", got)
	}
	mustSync(t, admin)
	admin = unchanged(t, admin, d["admin"], before)
	stored, err := s.Store().Invitation(bg(), org, inv.ID)
	if err != nil || stored.Attempts != 1 || stored.State != store.InvitationPending {
		t.Fatalf("invitation after one aborted attempt: %+v, %v", stored, err)
	}
	// Nothing was sealed in the channel (no step ≥ 3 was posted), so no
	// key went out; aborts carry no reason.
	hellos := map[coffrev1.RelaySide]bool{}
	for _, c := range rec.Calls() {
		r, ok := c.Request.(*coffrev1.RelayPostRequest)
		if !ok {
			continue
		}
		if r.Step == 1 {
			hellos[r.Side] = true
		}
		if !r.Abort && r.Step >= 3 {
			t.Errorf("%v posted step %d after the codes differed", r.Side, r.Step)
		}
		if r.Abort && (len(r.Payload) != 0 || r.Step != 0) {
			t.Errorf("an abort carries something: step %d, %d bytes", r.Step, len(r.Payload))
		}
		for _, enc := range encodings(seal[1:]) {
			if bytes.Contains(r.Payload, enc) {
				t.Error("the user's seal key crossed the relay")
			}
		}
	}

	if len(hellos) != 2 {
		t.Fatalf("the recording missed a side's messages: %v", hellos)
	}

	// Two more attempts burn the invitation.
	for attempt := 2; attempt <= 3; attempt++ {
		sasAborted(t, hostile.RunEnrolment(t, admin, l, inv, d["laptop"], hostile.EnrolOptions{}))
		noDevice(t, d["laptop"])
	}
	stored, err = s.Store().Invitation(bg(), org, inv.ID)
	if err != nil || stored.Attempts != 3 || stored.State != store.InvitationBurned {
		t.Fatalf("invitation after three aborted attempts: %+v, %v", stored, err)
	}
	// Burned for good, even with an honest server and honest people.
	s.ClearHooks()
	res = hostile.RunEnrolment(t, admin, l, inv, d["laptop"], hostile.EnrolOptions{})
	wantErr(t, res.ClaimErr, wire.ErrInvitationUnusable)
	wantErr(t, res.GreetErr, wire.ErrInvitationUnusable)
	noDevice(t, d["laptop"])
	if got := headOf(t, s, org); got != before.Position {
		t.Fatalf("the log grew to %d", got)
	}

	// A server that opens the claimer's commitment with another nonce
	// (to choose it after seeing the greeter's, grinding for matching
	// codes) is caught by the greeter before any code is shown.
	s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.RelayPostRequest); ok && r.Side == coffrev1.RelaySide_RELAY_SIDE_CLAIMER && r.Step == 2 && !r.Abort {
			r.Payload, _ = proto.Marshal(&coffrev1.ClaimerReveal{Nonce: crypto.RandomBytes(32)})
		}
		return req
	})
	l, inv = hostile.Invite(t, admin, "device", "", 0)
	res = hostile.RunEnrolment(t, admin, l, inv, d["laptop"], hostile.EnrolOptions{})
	wantErr(t, res.GreetErr, client.ErrEnrolmentBroken)
	if res.ClaimErr == nil || res.GreeterCode != "" {
		t.Fatalf("after a bad reveal: claimer %v, greeter showed %q", res.ClaimErr, res.GreeterCode)
	}
	noDevice(t, d["laptop"])
	if stored, err := s.Store().Invitation(bg(), org, inv.ID); err != nil || stored.Attempts != 1 {
		t.Fatalf("invitation after a bad reveal: %+v, %v", stored, err)
	}
	s.ClearHooks()

	// A person who types a wrong code aborts the attempt too (user
	// enrolment this time).
	l, inv = hostile.Invite(t, admin, "user", "bob@example.org", certificate.ProfileStandard)
	res = hostile.RunEnrolment(t, admin, l, inv, d["bob"], hostile.EnrolOptions{GreeterTypes: func(string) string { return "AAAA" }})
	wantErr(t, res.GreetErr, client.ErrSASMismatch)
	if res.ClaimErr == nil {
		t.Fatal("the claimer went on after the greeter's mismatch")
	}
	noDevice(t, d["bob"])

	// The server can't tamper with the sealed messages either: a flipped
	// bit in the greeter's confirmation stops the claimer, which keeps
	// nothing.
	s.RewriteRequest(func(method string, req any) any {
		if r, ok := req.(*coffrev1.RelayPostRequest); ok && r.Side == coffrev1.RelaySide_RELAY_SIDE_GREETER && r.Step == 5 {
			r.Payload[len(r.Payload)-1] ^= 1
		}
		return req
	})
	l, inv = hostile.Invite(t, admin, "user", "carol@example.org", certificate.ProfileStandard)
	res = hostile.RunEnrolment(t, admin, l, inv, d["bob"], hostile.EnrolOptions{})
	wantErr(t, res.ClaimErr, client.ErrEnrolmentBroken)
	noDevice(t, d["bob"])
	s.ClearHooks()

	// The claimer learns the root key from the link, not the server: a
	// server that completes the exchange honestly but then serves the
	// claimer an organisation of its own making is refused.
	fakeRoot := newSigningKey(t)
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_GetLog_FullMethodName || err != nil || req.(*coffrev1.GetLogRequest).GetFrom() != 1 {
			return resp, err
		}
		// Every entry re-signed and chained under the server's own root.
		r := resp.(*coffrev1.GetLogResponse)
		prev := certificate.Genesis(org, fakeRoot.Public())
		for _, e := range r.Entries {
			e.Data = mutateNoT(e.Data, fakeRoot, func(b *coffrev1.Certificate) { b.Author, b.PreviousHash = "", prev })
			prev = certificate.EntryHash(prev, e.Data)
		}
		return r, nil
	})
	l, inv = hostile.Invite(t, admin, "user", "dave@example.org", certificate.ProfileStandard)
	res = hostile.RunEnrolment(t, admin, l, inv, d["forged"], hostile.EnrolOptions{})
	if !errors.Is(res.ClaimErr, certificate.ErrFork) && !errors.Is(res.ClaimErr, client.ErrBadLog) {
		t.Fatalf("a claimer accepted an organisation under another root: %v", res.ClaimErr)
	}
	noDevice(t, d["forged"])
}
