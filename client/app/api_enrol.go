package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/link"
)

// A device's first run from the interface, with no device in the data
// directory yet: the person pastes the invitation link they were sent
// (POST /api/enrol answers what it is for), gives their name and this
// device's label (…/start), compares codes with the person greeting them
// (api_exchange.go), and, once the greeter confirmed, chooses the new
// device's passphrase (…/passphrase: its rules are checked there, as the
// command line does; a refused one can be given again), under which
// client.Claim writes the key file as its last step. Once enrolled, the
// app holds the new device's keys (enrolled.go): the interface goes on
// unlocked. Adding a second device is the same, with a device invitation
// link. A passphrase given to …/start already (the older order) is used
// and not asked at the end.

// errNewPassphrase: a new passphrase that breaks the rules, or typed
// differently twice; the message says which.
var errNewPassphrase = errors.New("choose another passphrase")

// claimInfoJSON is what an invitation link is for.
type claimInfoJSON struct {
	Organisation string `json:"organisation"`
	Kind         string `json:"kind"` // user: join as a new user; device: add a device to your account
	Email        string `json:"email,omitempty"`
	Profile      string `json:"profile,omitempty"`
}

// inspectInvitation reads an invitation link and asks the server what it
// is for, without claiming it yet.
func (h *api) inspectInvitation(r *http.Request) (any, error) {
	var req struct {
		Link string `json:"link"`
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	if err := h.mayEnrol(); err != nil {
		return nil, err
	}
	l, err := link.Parse(req.Link)
	if err != nil {
		return nil, err
	}
	if l.Kind != link.KindUser && l.Kind != link.KindDevice {
		return nil, fmt.Errorf("%w: this is not an invitation link: ask for the link of your invitation", link.ErrBadLink)
	}
	info, err := client.InspectInvitation(r.Context(), l)
	if err != nil {
		return nil, err
	}
	e := newExchange("claimer", stepReady)
	e.state.Invitation = &claimInfoJSON{Organisation: info.OrganisationName, Kind: info.Invitation.Kind,
		Email: info.Invitation.Email, Profile: info.Invitation.Profile}
	e.link = l
	h.enrolments.add(e)
	return e.snapshot(), nil
}

// mayEnrol refuses an enrolment where there is a device already, or while
// another one runs past its first step.
func (h *api) mayEnrol() error {
	if client.HasDevice(h.app.Home) {
		return client.ErrAlreadyEnrolled
	}
	for _, e := range h.enrolments.all() {
		if st := e.snapshot().Step; st != stepReady && st != stepDone && st != stepFailed {
			return errEnrolmentRunning
		}
	}
	return nil
}

// startClaim claims the link read by inspectInvitation.
func (h *api) startClaim(r *http.Request) (any, error) {
	var req struct {
		Name            string `json:"name"`
		DeviceLabel     string `json:"deviceLabel"`
		Passphrase      string `json:"passphrase"`
		PassphraseAgain string `json:"passphraseAgain"`
	}
	e, err := h.enrolments.get(r)
	if err != nil {
		return nil, err
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	var pass []byte // nil: asked at the end, once the greeter confirmed
	if req.Passphrase != "" || req.PassphraseAgain != "" {
		var err error
		if pass, err = newPassphrase(req.Passphrase, req.PassphraseAgain); err != nil {
			return nil, err
		}
	}
	info := e.snapshot().Invitation
	if info.Kind == "user" && req.Name == "" {
		return nil, badRequest("name: a new user needs a name, as colleagues will see it")
	}
	// One claim at a time: two would race to write the key file.
	h.claiming.Lock()
	defer h.claiming.Unlock()
	if err := h.mayEnrol(); err != nil {
		return nil, err
	}
	home := h.app.Home
	err = e.start(stepReady, func(ctx context.Context) (any, error) {
		p := &claimPrompter{exchange: e}
		defer func() { clear(pass); clear(p.chosen) }()
		s, err := client.Claim(ctx, home, e.link, client.ClaimOptions{Name: req.Name, DeviceLabel: req.DeviceLabel, Passphrase: pass}, p)
		if err != nil {
			return nil, err
		}
		if pass == nil {
			pass = p.chosen
		}
		// The app keeps the keys, as an unlock would; the key file is
		// read back with the passphrase just chosen.
		keys, err := client.Unlock(home, pass)
		if err != nil {
			s.Close()
			return nil, err
		}
		h.app.enrolled(keys, s)
		return identityOut(s.Identity()), nil
	})
	if err != nil {
		return nil, err
	}
	return e.snapshot(), nil
}

// newPassphrase checks a new passphrase typed twice.
func newPassphrase(pass, again string) ([]byte, error) {
	if err := client.CheckNewPassphrase([]byte(pass)); err != nil {
		return nil, fmt.Errorf("%w: %v", errNewPassphrase, err)
	}
	if again != pass {
		return nil, fmt.Errorf("%w: the two passphrases differ", errNewPassphrase)
	}
	return []byte(pass), nil
}

// choosePassphrase gives the new device's passphrase, at the step that
// asks for it (after the codes matched and the greeter confirmed). One
// that breaks the rules is refused here, and the step still waits.
func (h *api) choosePassphrase(r *http.Request) (any, error) {
	var req struct {
		Passphrase      string `json:"passphrase"`
		PassphraseAgain string `json:"passphraseAgain"`
	}
	e, err := h.enrolments.get(r)
	if err != nil {
		return nil, err
	}
	if err := readJSON(r, &req); err != nil {
		return nil, err
	}
	pass, err := newPassphrase(req.Passphrase, req.PassphraseAgain)
	if err != nil {
		return nil, err
	}
	if err := e.answer(exchangeAnswer{pass: pass}); err != nil {
		clear(pass)
		return nil, err
	}
	return e.snapshot(), nil
}

// claimPrompter is an enrolment's exchange as the Prompter of its Claim,
// keeping the passphrase chosen last to unlock with it once written.
type claimPrompter struct {
	*exchange
	chosen []byte
}

func (p *claimPrompter) NewPassphrase(ctx context.Context, refused error) ([]byte, error) {
	pass, err := p.exchange.NewPassphrase(ctx, refused)
	if err == nil {
		clear(p.chosen)
		p.chosen = bytes.Clone(pass) // Claim clears its copy once written
	}
	return pass, err
}

func (h *api) claimState(r *http.Request) (any, error)  { return h.enrolments.poll(r) }
func (h *api) answerClaim(r *http.Request) (any, error) { return h.enrolments.answerCall(r) }
func (h *api) cancelClaim(r *http.Request) (any, error) { return h.enrolments.cancelCall(r) }
