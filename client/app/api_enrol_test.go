package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/tests/hostile"
)

// waitStep polls an exchange until it reaches one of steps and returns it.
func (ta *testApp) waitStep(url string, steps ...string) exchangeJSON {
	ta.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var e exchangeJSON
		ta.ok("GET", url, nil, &e)
		for _, s := range steps {
			if e.Step == s {
				return e
			}
		}
		if e.Step == stepFailed || time.Now().After(deadline) {
			ta.t.Fatalf("%s: step %q (error %+v), want one of %v", url, e.Step, e.Error, steps)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newcomer is an app on a data directory with no device yet.
func newcomer(t *testing.T) *testApp {
	return serveApp(t, filepath.Join(t.TempDir(), "new-home"))
}

// startEnrolment has admin invite email, and the newcomer read the link
// and start claiming it; it returns both exchanges' URLs.
func startEnrolment(t *testing.T, admin, nb *testApp, email string) (greeting, claim string) {
	t.Helper()
	var inv struct {
		Link       string         `json:"link"`
		Invitation invitationJSON `json:"invitation"`
	}
	admin.ok("POST", "/api/invitations", map[string]any{"email": email}, &inv)
	if inv.Link == "" || inv.Invitation.Kind != "user" || inv.Invitation.Email != email || inv.Invitation.Profile != "standard" {
		t.Fatalf("invitation: %+v", inv)
	}
	var e exchangeJSON
	nb.ok("POST", "/api/enrol", map[string]any{"link": inv.Link}, &e)
	if e.Step != stepReady || e.Side != "claimer" || e.Invitation == nil || e.Invitation.Kind != "user" ||
		e.Invitation.Email != email || e.Invitation.Organisation != "Hostile test organisation" {
		t.Fatalf("inspected: %+v %+v", e, e.Invitation)
	}
	claim = "/api/enrol/" + e.ID
	nb.fails("POST", claim+"/start", map[string]any{"name": "Carol", "passphrase": "short", "passphraseAgain": "short"}, http.StatusBadRequest, "bad_passphrase")
	nb.fails("POST", claim+"/start", map[string]any{"name": "Carol", "passphrase": "long enough one", "passphraseAgain": "long enough two"}, http.StatusBadRequest, "bad_passphrase")
	nb.fails("POST", claim+"/start", map[string]any{"passphrase": "long enough one", "passphraseAgain": "long enough one"}, http.StatusBadRequest, "bad_request")
	nb.ok("POST", claim+"/start", map[string]any{"name": "Carol", "deviceLabel": "carol-pc",
		"passphrase": string(hostile.Passphrase), "passphraseAgain": string(hostile.Passphrase)}, &e)
	nb.fails("POST", claim+"/start", map[string]any{"name": "Carol", "passphrase": string(hostile.Passphrase), "passphraseAgain": string(hostile.Passphrase)}, http.StatusConflict, "enrolment_running")

	admin.ok("POST", "/api/greetings", map[string]any{"kind": "user", "invitation": email}, &e)
	if e.Side != "greeter" || e.ID == "" {
		t.Fatalf("greeting: %+v", e)
	}
	return "/api/greetings/" + e.ID, claim
}

// A new user's first run, entirely through the API of two apps on two
// data directories: the admin invites, the newcomer pastes the link and
// chooses a passphrase, both compare codes on screen, the admin confirms
// who joins; the newcomer's app then holds the new device's keys.
func TestGreetAndClaimThroughTheAPI(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	nb := newcomer(t)
	nb.fails("GET", "/api/vaults", nil, http.StatusConflict, "no_device")
	greeting, claim := startEnrolment(t, admin, nb, "carol@example.org")

	g := admin.waitStep(greeting, stepCode)
	c := nb.waitStep(claim, stepCode)
	if len(g.Code) != 4 || len(c.Code) != 4 || g.Code == c.Code {
		t.Fatalf("codes: greeter %q, claimer %q", g.Code, c.Code)
	}
	admin.fails("POST", greeting+"/answer", map[string]any{"confirm": true}, http.StatusConflict, "wrong_step")
	// Each types the code the other reads aloud (in lower case, spaced:
	// as people type).
	nb.ok("POST", claim+"/answer", map[string]any{"code": " " + g.Code[:2] + " " + g.Code[2:]}, nil)
	admin.ok("POST", greeting+"/answer", map[string]any{"code": c.Code}, nil)
	g = admin.waitStep(greeting, stepConfirm)
	if g.Claimer == nil || g.Claimer.Name != "Carol" || g.Claimer.Email != "carol@example.org" || g.Claimer.DeviceLabel != "carol-pc" || g.Claimer.Profile != "standard" {
		t.Fatalf("who joins: %+v", g.Claimer)
	}
	admin.ok("POST", greeting+"/answer", map[string]any{"confirm": true}, nil)
	g = admin.waitStep(greeting, stepDone)
	c = nb.waitStep(claim, stepDone)

	var greeted greetedJSON
	remarshal(t, g.Result, &greeted)
	var id identityJSON
	remarshal(t, c.Result, &id)
	if greeted.UserID == "" || greeted.UserID != id.UserID || greeted.DeviceID != id.DeviceID || id.DeviceLabel != "carol-pc" {
		t.Fatalf("greeter enrolled %+v, claimer is %+v", greeted, id)
	}
	// The newcomer's app is unlocked with the new device.
	var me identityJSON
	nb.ok("GET", "/api/identity", nil, &me)
	if me.UserID != id.UserID {
		t.Fatalf("identity after enrolment: %+v", me)
	}
	var users []userJSON
	admin.ok("GET", "/api/users", nil, &users)
	if len(users) != 2 || users[1].Email != "carol@example.org" || users[1].Name != "Carol" || len(users[1].Devices) != 1 {
		t.Fatalf("users: %+v", users)
	}
	// The key file is the passphrase's.
	if _, err := client.Unlock(nb.home, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	nb.fails("POST", "/api/enrol", map[string]any{"link": "whatever"}, http.StatusConflict, "already_enrolled")
}

// A code typed wrong ends the exchange on both sides, and enrols no one.
func TestClaimCodesDiffer(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	nb := newcomer(t)
	greeting, claim := startEnrolment(t, admin, nb, "dan@example.org")
	g := admin.waitStep(greeting, stepCode)
	nb.waitStep(claim, stepCode)
	wrong := "ZZZZ"
	if g.Code == wrong {
		wrong = "YYYY"
	}
	nb.ok("POST", claim+"/answer", map[string]any{"code": wrong}, nil)
	c := nb.waitStep(claim, stepFailed)
	if c.Error == nil || c.Error.Code != "codes_differ" {
		t.Fatalf("claimer: %+v", c.Error)
	}
	g = admin.waitStep(greeting, stepFailed, stepCode)
	if g.Step == stepCode { // the greeter learns it when it answers
		admin.ok("POST", greeting+"/answer", map[string]any{"code": "AAAA"}, nil)
		g = admin.waitStep(greeting, stepFailed)
	}
	if g.Error == nil || g.Error.Code == "" {
		t.Fatalf("greeter: %+v", g)
	}
	if client.HasDevice(nb.home) {
		t.Fatal("a device was left after the codes differed")
	}
	var users []userJSON
	admin.ok("GET", "/api/users", nil, &users)
	if len(users) != 1 {
		t.Fatalf("someone was enrolled: %+v", users)
	}
	nb.fails("GET", claim+"x", nil, http.StatusNotFound, "no_such_exchange")
}

func remarshal(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A second device of the same user is added the same way, with a device
// invitation: it sees the user's vaults at once.
func TestSecondDeviceThroughTheAPI(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	id := admin.createVault("Mes dossiers")
	admin.put(id, "/a.txt", []byte("on both devices"))
	nb := newcomer(t)
	var inv struct {
		Link string `json:"link"`
	}
	admin.ok("POST", "/api/invitations", map[string]any{"kind": "device"}, &inv)
	var e exchangeJSON
	nb.ok("POST", "/api/enrol", map[string]any{"link": inv.Link}, &e)
	if e.Invitation == nil || e.Invitation.Kind != "device" {
		t.Fatalf("inspected: %+v", e.Invitation)
	}
	claim := "/api/enrol/" + e.ID
	nb.ok("POST", claim+"/start", map[string]any{"deviceLabel": "admin-phone",
		"passphrase": "another passphrase", "passphraseAgain": "another passphrase"}, nil)
	admin.ok("POST", "/api/greetings", map[string]any{"kind": "device"}, &e)
	greeting := "/api/greetings/" + e.ID
	g := admin.waitStep(greeting, stepCode)
	c := nb.waitStep(claim, stepCode)
	nb.ok("POST", claim+"/answer", map[string]any{"code": g.Code}, nil)
	admin.ok("POST", greeting+"/answer", map[string]any{"code": c.Code}, nil)
	g = admin.waitStep(greeting, stepConfirm)
	if g.Claimer == nil || g.Claimer.DeviceLabel != "admin-phone" {
		t.Fatalf("who joins: %+v", g.Claimer)
	}
	admin.ok("POST", greeting+"/answer", map[string]any{"confirm": true}, nil)
	admin.waitStep(greeting, stepDone)
	c = nb.waitStep(claim, stepDone)
	var me, first identityJSON
	nb.ok("GET", "/api/identity", nil, &me)
	admin.ok("GET", "/api/identity", nil, &first)
	if me.UserID != first.UserID || me.DeviceID == first.DeviceID || me.DeviceLabel != "admin-phone" {
		t.Fatalf("new device %+v, first %+v", me, first)
	}
	if _, got, _ := nb.get("content", id, "/a.txt"); string(got) != "on both devices" {
		t.Fatalf("the new device reads %q", got)
	}
}

// A greeting the greeter cancels stops the claimer too.
func TestCancelGreeting(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	nb := newcomer(t)
	greeting, claim := startEnrolment(t, admin, nb, "fay@example.org")
	admin.waitStep(greeting, stepCode)
	nb.waitStep(claim, stepCode)
	admin.ok("DELETE", greeting, nil, nil)
	if g := admin.waitStep(greeting, stepFailed); g.Error.Code != "cancelled" {
		t.Fatalf("greeter: %+v", g.Error)
	}
	nb.ok("POST", claim+"/answer", map[string]any{"code": "ABCD"}, nil)
	if c := nb.waitStep(claim, stepFailed); c.Error == nil {
		t.Fatalf("claimer: %+v", c)
	}
	if client.HasDevice(nb.home) {
		t.Fatal("a device was left")
	}
}

// startEnrolmentLate is startEnrolment in the first run's order: the
// newcomer starts with a name and a label only, the passphrase is asked
// last. It runs the codes and the admin's confirmation, and returns the
// claim's URL at the passphrase step.
func startEnrolmentLate(t *testing.T, admin, nb *testApp, email string) (greeting, claim string) {
	t.Helper()
	var inv struct {
		Link string `json:"link"`
	}
	admin.ok("POST", "/api/invitations", map[string]any{"email": email}, &inv)
	var e exchangeJSON
	nb.ok("POST", "/api/enrol", map[string]any{"link": inv.Link}, &e)
	claim = "/api/enrol/" + e.ID
	// At step ready, no passphrase is asked yet.
	nb.fails("POST", claim+"/passphrase", map[string]any{"passphrase": string(hostile.Passphrase), "passphraseAgain": string(hostile.Passphrase)}, http.StatusConflict, "wrong_step")
	nb.ok("POST", claim+"/start", map[string]any{"name": "Erin", "deviceLabel": "erin-pc"}, &e)
	admin.ok("POST", "/api/greetings", map[string]any{"kind": "user", "invitation": email}, &e)
	greeting = "/api/greetings/" + e.ID

	g := admin.waitStep(greeting, stepCode)
	c := nb.waitStep(claim, stepCode)
	// The codes come before the passphrase.
	nb.fails("POST", claim+"/passphrase", map[string]any{"passphrase": string(hostile.Passphrase), "passphraseAgain": string(hostile.Passphrase)}, http.StatusConflict, "wrong_step")
	nb.ok("POST", claim+"/answer", map[string]any{"code": g.Code}, nil)
	admin.ok("POST", greeting+"/answer", map[string]any{"code": c.Code}, nil)
	admin.waitStep(greeting, stepConfirm)
	if st := nb.waitStep(claim, stepWaiting, stepPassphrase).Step; st != stepWaiting {
		t.Fatalf("before the greeter confirmed, the claimer is at %q", st)
	}
	admin.ok("POST", greeting+"/answer", map[string]any{"confirm": true}, nil)
	admin.waitStep(greeting, stepDone)
	c = nb.waitStep(claim, stepPassphrase)
	if c.Code != "" {
		t.Fatalf("the passphrase step still shows a code: %+v", c)
	}
	return greeting, claim
}

// The first run's order: link, codes, then the passphrase; one refused
// for its rules (or typed differently twice) can be given again at the
// same step, and the app is then unlocked under the one accepted.
func TestClaimPassphraseLast(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	nb := newcomer(t)
	_, claim := startEnrolmentLate(t, admin, nb, "erin@example.org")
	if client.HasDevice(nb.home) {
		t.Fatal("a key file before the passphrase was chosen")
	}
	nb.fails("POST", claim+"/passphrase", map[string]any{"passphrase": "short", "passphraseAgain": "short"}, http.StatusBadRequest, "bad_passphrase")
	nb.fails("POST", claim+"/passphrase", map[string]any{"passphrase": "long enough one", "passphraseAgain": "long enough two"}, http.StatusBadRequest, "bad_passphrase")
	// The answer call takes no passphrase.
	nb.fails("POST", claim+"/answer", map[string]any{"pass": "long enough one"}, http.StatusBadRequest, "bad_request")
	if st := nb.waitStep(claim, stepPassphrase, stepDone).Step; st != stepPassphrase {
		t.Fatalf("after refused passphrases: step %q", st)
	}
	nb.ok("POST", claim+"/passphrase", map[string]any{"passphrase": string(hostile.Passphrase), "passphraseAgain": string(hostile.Passphrase)}, nil)
	c := nb.waitStep(claim, stepDone)
	var id identityJSON
	remarshal(t, c.Result, &id)
	var me identityJSON
	nb.ok("GET", "/api/identity", nil, &me)
	if me.UserID == "" || me.UserID != id.UserID || id.DeviceLabel != "erin-pc" {
		t.Fatalf("identity after enrolment: %+v, result %+v", me, id)
	}
	if _, err := client.Unlock(nb.home, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
	nb.fails("POST", claim+"/passphrase", map[string]any{"passphrase": string(hostile.Passphrase), "passphraseAgain": string(hostile.Passphrase)}, http.StatusConflict, "wrong_step")
}

// Abandoning at the passphrase leaves the enrolment done on the server but
// no key file here: the exchange fails with claimed_without_key, which
// says a new invitation is needed.
func TestClaimAbandonedAtPassphrase(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	nb := newcomer(t)
	_, claim := startEnrolmentLate(t, admin, nb, "fred@example.org")
	nb.ok("DELETE", claim, nil, nil)
	var e exchangeJSON
	for e.Step != stepFailed {
		nb.ok("GET", claim, nil, &e)
		time.Sleep(20 * time.Millisecond)
	}
	if e.Error == nil || e.Error.Code != "claimed_without_key" || !strings.Contains(e.Error.Message, "new invitation") {
		t.Fatalf("abandoned at the passphrase: %+v", e.Error)
	}
	if client.HasDevice(nb.home) {
		t.Fatal("a key file with no passphrase chosen")
	}
	var users []userJSON
	admin.ok("GET", "/api/users", nil, &users)
	if len(users) != 2 || users[1].Email != "fred@example.org" {
		t.Fatalf("the enrolment is on the server: %+v", users)
	}
	// A new first run may start: the link is read (and refused for
	// itself), no enrolment is said to be running.
	nb.fails("POST", "/api/enrol", map[string]any{"link": "coffre://nowhere"}, http.StatusBadRequest, "bad_link")
}

// lateClaimer is a client.PassphrasePrompter for a claim run by the
// library itself (not the app's exchange): it types the code heard from
// the greeter, then offers the passphrases in order, noting why each was
// refused.
type lateClaimer struct {
	shown   chan string
	heard   func() string
	offers  [][]byte
	refused []error
}

func (p *lateClaimer) ShowCode(c string)                        { p.shown <- c }
func (p *lateClaimer) PeerCode(context.Context) (string, error) { return p.heard(), nil }
func (p *lateClaimer) ConfirmClaimer(context.Context, client.Claimer) (bool, error) {
	return false, errors.New("a claimer confirms no one")
}
func (p *lateClaimer) Progress(string) {}
func (p *lateClaimer) NewPassphrase(_ context.Context, refused error) ([]byte, error) {
	p.refused = append(p.refused, refused)
	if len(p.offers) == 0 {
		return nil, errors.New("the person left")
	}
	next := bytes.Clone(p.offers[0])
	p.offers = p.offers[1:]
	return next, nil
}

// claimLate runs client.Claim with no passphrase against admin's greeting
// through the API, and returns its result once done.
func claimLate(t *testing.T, admin *testApp, p *lateClaimer, home, email string) (*client.Session, error) {
	t.Helper()
	var inv struct {
		Link string `json:"link"`
	}
	admin.ok("POST", "/api/invitations", map[string]any{"email": email}, &inv)
	l, err := link.Parse(inv.Link)
	if err != nil {
		t.Fatal(err)
	}
	var e exchangeJSON
	admin.ok("POST", "/api/greetings", map[string]any{"kind": "user", "invitation": email}, &e)
	greeting := "/api/greetings/" + e.ID
	p.shown = make(chan string, 1)
	greeterCode := make(chan string, 1)
	p.heard = func() string { return <-greeterCode }
	type result struct {
		s   *client.Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := client.Claim(context.Background(), home, l, client.ClaimOptions{Name: "Gail"}, p)
		done <- result{s, err}
	}()
	greeterCode <- admin.waitStep(greeting, stepCode).Code
	admin.ok("POST", greeting+"/answer", map[string]any{"code": <-p.shown}, nil)
	admin.waitStep(greeting, stepConfirm)
	admin.ok("POST", greeting+"/answer", map[string]any{"confirm": true}, nil)
	admin.waitStep(greeting, stepDone)
	r := <-done
	return r.s, r.err
}

// The library asks the passphrase last, again until one follows the
// rules, and says why it refused the last one.
func TestLibraryAsksPassphraseLast(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	home := filepath.Join(t.TempDir(), "gail")
	p := &lateClaimer{offers: [][]byte{[]byte("short"), hostile.Passphrase}}
	s, err := claimLate(t, admin, p, home, "gail@example.org")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(p.refused) != 2 || p.refused[0] != nil || p.refused[1] == nil || !strings.Contains(p.refused[1].Error(), "at least") {
		t.Fatalf("why refused: %v", p.refused)
	}
	if _, err := client.Unlock(home, hostile.Passphrase); err != nil {
		t.Fatal(err)
	}
}

// Abandoning at the passphrase: ErrClaimedWithoutKey, no key file.
func TestLibraryClaimedWithoutKey(t *testing.T) {
	srv := hostile.Start(t)
	admin := newTestApp(t, srv)
	home := filepath.Join(t.TempDir(), "hal")
	p := &lateClaimer{}
	_, err := claimLate(t, admin, p, home, "hal@example.org")
	if !errors.Is(err, client.ErrClaimedWithoutKey) || !strings.Contains(err.Error(), "the person left") {
		t.Fatalf("abandoned: %v", err)
	}
	if client.HasDevice(home) {
		t.Fatal("a key file with no passphrase")
	}
}
