package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const unusableInvitation = "invitation is unknown, expired, spent or cancelled"

// TestBadInput gives coffre what people get wrong around an enrolment: a
// bad, spent or expired link, a code misheard on the phone, a standard
// user acting as an administrator. Each gets a one-line error, and nothing
// is changed. What needs no second person (a wrong or missing passphrase,
// a server that is down, a damaged state file, bootstrapping twice) is in
// cmd/coffre/testdata/badinput.txtar and offline.txtar.
func TestBadInput(t *testing.T) {
	longScenario(t)
	t.Parallel()
	org := StartOrganisation(t, "Clinique des Pins", "Alice", "alice@pins.example")
	alice := org.Admin
	// Expires while Bob's enrolment runs (or before its subtest claims it).
	lateID, lateLink := alice.InviteUser("late@pins.example", "standard", "--expires", "1s")
	lateEnds := time.Now().Add(time.Second)
	bob := NewDevice(t, "bob")
	_, bobLink := EnrolUser(t, alice, "bob@pins.example", "standard", bob, "Bob")

	// A claim refused by the server leaves no device behind.
	claimRefused := func(t *testing.T, link, want string) {
		t.Helper()
		stranger := NewDevice(t, "stranger")
		stranger.MustFail(want, "invitation", "claim", link, "--name", "Stranger")
		if exists(filepath.Join(stranger.Home, "device.age")) {
			t.Errorf("a refused claim left a device key file in %s", stranger.Home)
		}
	}
	t.Run("unknown token", func(t *testing.T) {
		claimRefused(t, withQuery(t, bobLink, "token", randomToken(t)), unusableInvitation)
	})
	t.Run("spent invitation", func(t *testing.T) {
		claimRefused(t, bobLink, unusableInvitation)
	})
	t.Run("expired invitation", func(t *testing.T) {
		time.Sleep(time.Until(lateEnds.Add(500 * time.Millisecond)))
		claimRefused(t, lateLink, unusableInvitation)
	})
	t.Run("bad root key", func(t *testing.T) {
		claimRefused(t, withQuery(t, bobLink, "root", queryValue(t, bobLink, "root")[:10]), "bad coffre link")
	})

	t.Run("wrong code", func(t *testing.T) {
		alice := alice.In(t)
		dave := NewDevice(t, "dave")
		invID, link := alice.InviteUser("dave@pins.example", "outsider")
		greet := []string{"user", "greet", "--yes", invID}
		res := Enrol(t, alice, greet, dave, link, []string{"--name", "Dave"}, Exchange{ClaimerTypes: misheard})
		if res.Greeter.OK() || res.Claimer.OK() {
			t.Fatalf("an enrolment with a misheard code went through:\n%s\n%s", res.Greeter, res.Claimer)
		}
		if !strings.Contains(res.Claimer.Stderr, "codes do not match") {
			t.Errorf("the claimer, who typed a wrong code, is not told the codes differ: %s", res.Claimer)
		}
		if !strings.Contains(res.Greeter.Stderr, "aborted") {
			t.Errorf("the greeter is not told the enrolment was aborted: %s", res.Greeter)
		}
		if exists(filepath.Join(dave.Home, "device.age")) {
			t.Errorf("an aborted claim left a device key file")
		}
		if slices.ContainsFunc(alice.Users(true), func(u User) bool { return u.Email == "dave@pins.example" }) {
			t.Errorf("Dave became a user despite the wrong code")
		}
		invs := alice.Invitations()
		i := slices.IndexFunc(invs, func(i Invitation) bool { return i.ID == invID })
		if i < 0 {
			t.Fatalf("Dave's invitation is gone after one failed attempt: %+v", invs)
		}
		if j := slices.IndexFunc(invs, func(i Invitation) bool { return i.ID == lateID }); j < 0 || invs[j].State != "expired" {
			t.Errorf("the invitation that expired is not listed as expired: %+v", invs)
		}
		if inv := invs[i]; inv.Attempts != 1 || inv.State != "pending" {
			t.Errorf("after one wrong code, Dave's invitation is %+v, want pending with 1 failed attempt", inv)
		}

		// The invitation survives one misheard code: the next attempt
		// works, and Dave, an outsider sharing no vault, reads nobody
		// else's name or email in the directory (SPEC §17).
		res = Enrol(t, alice, greet, dave, link, []string{"--name", "Dave"}, Exchange{})
		wantEnrolled(t, res)
		out := dave.MustRun("user", "list")
		if !strings.Contains(out, "dave@pins.example") || strings.Contains(out, "alice@pins.example") || strings.Contains(out, "bob@pins.example") ||
			!strings.Contains(out, "2 other user(s) share no vault with you") {
			t.Fatalf("an outsider's user list:\n%s", out)
		}
	})

	t.Run("not an administrator", func(t *testing.T) {
		bob := bob.In(t)
		bob.MustFail("only an administrator", "user", "invite", "mallory@pins.example")
		bob.MustFail("only an administrator", "user", "revoke", "alice@pins.example")
	})
}

// misheard returns a code of the same length with every character
// different from code's.
func misheard(code string) string {
	b := []byte(code)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}
