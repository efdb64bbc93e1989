package e2e

import (
	"bytes"
	"crypto/rand"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const unusableInvitation = "invitation is unknown, expired, spent or cancelled"

// TestBadInput gives coffre what people get wrong: a wrong passphrase, a
// bad, spent or expired link, a code misheard on the phone, a server that
// is down, a damaged state file, a standard user acting as an
// administrator. Each gets a one-line error, and nothing is changed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	org := StartOrganisation(t, "Clinique des Pins", "Alice", "alice@pins.example")
	srv, alice, bootstrapLink := org.Server, org.Admin, org.BootstrapLink
	// Expires while Bob's enrolment runs.
	lateID, lateLink := alice.InviteUser("late@pins.example", "standard", "--expires", "1s")
	bob := NewDevice(t, "bob")
	_, bobLink := EnrolUser(t, alice, "bob@pins.example", "standard", bob, "Bob")

	t.Run("wrong passphrase", func(t *testing.T) {
		keyFile := filepath.Join(bob.Home, "device.age")
		before := readFile(t, keyFile)
		wrong := bob.In(t)
		wrong.Passphrase = "not Bob's passphrase"
		wrong.MustFail("wrong passphrase", "status")
		if !bytes.Equal(before, readFile(t, keyFile)) {
			t.Errorf("a failed unlock changed the key file")
		}
	})

	t.Run("no passphrase and no terminal", func(t *testing.T) {
		r := run(t, cleanEnv(), "", coffreBin, "--home", bob.Home, "status")
		wantOneLineError(t, r, "set COFFRE_PASSPHRASE or use --passphrase-file")
	})

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
		// works, and Dave, an outsider, can't read the directory.
		res = Enrol(t, alice, greet, dave, link, []string{"--name", "Dave"}, Exchange{})
		wantEnrolled(t, res)
		dave.MustFail("outsiders can't list", "user", "list")
	})

	t.Run("not an administrator", func(t *testing.T) {
		bob := bob.In(t)
		bob.MustFail("only an administrator", "user", "invite", "mallory@pins.example")
		bob.MustFail("only an administrator", "user", "revoke", "alice@pins.example")
	})

	t.Run("bootstrap twice", func(t *testing.T) {
		eve := NewDevice(t, "eve")
		eve.MustFail("already bootstrapped", "org", "bootstrap", bootstrapLink, "--name", "Eve", "--email", "eve@pins.example")
		if exists(filepath.Join(eve.Home, "device.age")) {
			t.Errorf("a refused bootstrap left a device key file")
		}
	})

	t.Run("server down", func(t *testing.T) {
		a := alice.In(t)
		state := filepath.Join(alice.Home, "state.db")
		before := boltContents(t, state)
		srv.Stop()
		// Answered from local state: scripts see it in the exit status
		// (3) and in --json, not only in a warning line.
		r := a.Run("user", "list")
		if r.Code != 3 || !strings.Contains(r.Stdout, "bob@pins.example") {
			t.Errorf("'user list' does not work offline, with exit status 3: %s", r)
		}
		if !strings.Contains(r.Stderr, "warning: cannot reach the server") {
			t.Errorf("'user list' offline does not warn that the list may be stale: %s", r)
		}
		for _, args := range [][]string{{"user", "list", "--json"}, {"status", "--json"}} {
			if r := a.Run(args...); r.Code != 3 || !strings.Contains(r.Stdout, `"offline": true`) {
				t.Errorf("'%s' offline: want exit status 3 and \"offline\": true: %s", strings.Join(args, " "), r)
			}
		}
		if r := a.Run("vault", "list", "--json"); r.Code != 3 {
			t.Errorf("'vault list' offline: want exit status 3: %s", r)
		}
		a.MustFail("cannot reach the server", "user", "invite", "frank@pins.example")
		if after := boltContents(t, state); !maps.Equal(before, after) {
			t.Errorf("commands run while the server was down changed the local state (%d entries before, %d after)", len(before), len(after))
		}
		srv.Start()
		if r := a.Run("user", "list"); !r.OK() || r.Stderr != "" {
			t.Errorf("'user list' after the server came back: %s", r)
		}
	})

	t.Run("damaged local state", func(t *testing.T) {
		a := alice.In(t)
		state := filepath.Join(alice.Home, "state.db")
		good := readFile(t, state)
		defer os.WriteFile(state, good, 0o600)
		garbage := make([]byte, len(good))
		rand.Read(garbage)
		if err := os.WriteFile(state, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		r := a.MustFail(state, "status")
		if !bytes.Equal(garbage, readFile(t, state)) {
			t.Errorf("the damaged state file was changed (reset?) instead of being reported")
		}
		if !strings.Contains(r.Stderr, "damaged") || strings.Contains(r.Stderr, "another coffre command") {
			t.Errorf("a damaged state.db must be reported as damaged, not as in use: %q", r.Stderr)
		}
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
