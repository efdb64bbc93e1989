package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// The greeter's side of an enrolment (SPEC.md §5): Greet runs the steps
// below in order; each function is one step of the spec.

// GreetResult is what a greeter enrolled.
type GreetResult struct {
	UserID, DeviceID string
	Claimer          Claimer
}

// Greet runs the greeter's side of an enrolment (SPEC.md §5): wait for the
// claimer, exchange keys with a commitment, compare codes through the
// people, check who asks to join, sign and publish their certificates,
// and send the confirmation (with the user's private keys for a device).
// On failure the attempt is aborted on the server, so both sides stop.
func (s *Session) Greet(ctx context.Context, inv Invitation, p Prompter) (res GreetResult, err error) {
	if inv, err = s.greetable(inv); err != nil {
		return res, err
	}
	r := &relayEnd{api: s.conn.api, address: s.conn.address, orgID: s.link.OrganisationID, invID: inv.ID, side: coffrev1.RelaySide_RELAY_SIDE_GREETER}
	defer func() {
		if err != nil {
			r.abort()
		}
	}()
	p.Progress(WaitingForClaimer)
	if err := greeterHandshake(ctx, r, inv.ID); err != nil {
		return res, err
	}
	greeterCode, claimerCode := r.channel.Codes()
	if err := compareCodes(ctx, r, p, greeterCode, claimerCode); err != nil {
		return res, err
	}
	res, stmts, openings, err := s.receiveClaimer(ctx, r, inv)
	if err != nil {
		return res, err
	}
	ok, err := p.ConfirmClaimer(ctx, res.Claimer)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, errors.New("enrolment refused by the greeter")
	}
	err = s.publishWithIdentities(ctx, inv.ID, openings, func() ([]certificate.Statement, error) {
		// The log no longer sees a committed email (SPEC.md §17): its
		// uniqueness among active users is checked here, on the identities
		// this administrator's device opened.
		if inv.Kind == "user" {
			for _, u := range s.org.Users() {
				if !u.Revoked() && strings.EqualFold(u.Email, inv.Email) {
					return nil, fmt.Errorf("%w: email %q already belongs to user %q", ErrNotAllowed, inv.Email, u.ID)
				}
			}
		}
		return stmts, nil
	})
	if err != nil {
		return res, err
	}
	if err := s.sendConfirmation(ctx, r, inv, res); err != nil {
		return res, err
	}
	r.finished = true
	return res, nil
}

// greetable checks that this device may greet inv and returns it as this
// device created it (step 1): what is signed comes from what this device
// asked for, not from the server's listing (SECURITY.md A7).
func (s *Session) greetable(inv Invitation) (Invitation, error) {
	if inv.Kind == "user" {
		if err := s.requireAdmin(); err != nil {
			return inv, err
		}
	}
	if inv.Kind == "device" && s.currentSealKey() == nil {
		// It would hand the new device a user key already replaced.
		return inv, errNotRotatedHere
	}
	rec, ok, err := s.state.invitation(inv.ID)
	if err != nil {
		return inv, err
	}
	if !ok {
		return inv, fmt.Errorf("invitation %s was not created on this device: greet from the device that created it", inv.ID)
	}
	if rec.Kind != inv.Kind || (rec.Kind == "user" && (!strings.EqualFold(rec.Email, inv.Email) || rec.Profile != inv.Profile)) {
		return inv, fmt.Errorf("%w: the server lists invitation %s differently from how it was created", ErrEnrolmentBroken, inv.ID)
	}
	inv.Kind, inv.Email, inv.Profile = rec.Kind, rec.Email, rec.Profile
	return inv, nil
}

// greeterHandshake is the greeter's part of step 3, relay steps 1–2: wait
// for the claimer's key and nonce commitment, answer with its own key and
// nonce, check the revealed nonce against the commitment, and open the
// channel on the transcript.
func greeterHandshake(ctx context.Context, r *relayEnd, invID string) error {
	var hello coffrev1.ClaimerHello
	if err := r.wait(ctx, 1, &hello); err != nil {
		return err
	}
	var claimerKey [32]byte
	if len(hello.GetEphemeralKey()) != 32 || len(hello.GetNonceCommitment()) != 32 {
		return ErrEnrolmentBroken
	}
	copy(claimerKey[:], hello.GetEphemeralKey())
	box, err := crypto.GenerateBoxKey()
	if err != nil {
		return err
	}
	myKey := box.Public()
	myNonce := crypto.RandomBytes(32)
	if err := r.post(ctx, 1, &coffrev1.GreeterHello{EphemeralKey: myKey[:], Nonce: myNonce}); err != nil {
		return err
	}
	var reveal coffrev1.ClaimerReveal
	if err := r.wait(ctx, 2, &reveal); err != nil {
		return err
	}
	if !crypto.Equal(commitment(reveal.GetNonce()), hello.GetNonceCommitment()) {
		return ErrEnrolmentBroken
	}
	r.channel, err = box.NewChannel(claimerKey, transcript(invID, claimerKey[:], myKey[:], reveal.GetNonce(), myNonce))
	if err != nil {
		return ErrEnrolmentBroken
	}
	return nil
}

// receiveClaimer is the greeter's part of step 4: it receives the
// claimer's identity and returns who they are and the certificates that
// enrol them, for the greeter's person to confirm before they are signed,
// with the identity opening of a new user's commitment (SPEC.md §17).
func (s *Session) receiveClaimer(ctx context.Context, r *relayEnd, inv Invitation) (GreetResult, []certificate.Statement, map[string][]byte, error) {
	var res GreetResult
	var who coffrev1.ClaimerIdentity
	if err := r.wait(ctx, 4, &who); err != nil {
		return res, nil, nil, err
	}
	res.Claimer = Claimer{Name: who.GetName(), Email: who.GetEmail(), DeviceLabel: who.GetDeviceLabel(), Profile: inv.Profile}
	verifyKey, err := crypto.ParseVerifyKey(who.GetVerifyKey())
	if err != nil || who.GetDeviceLabel() == "" {
		return res, nil, nil, ErrEnrolmentBroken
	}
	res.DeviceID = certificate.NewID()
	// The device's own seal key; a claimer of an older version sends none
	// (its device can't receive a rotation of the user's keys, §15.2).
	userSeal := who.GetSealPublicKey()
	var deviceSeal crypto.SealPublicKey
	if b := who.GetDeviceSealPublicKey(); len(b) > 0 {
		if deviceSeal, err = crypto.ParseSealPublicKey(b); err != nil {
			return res, nil, nil, ErrEnrolmentBroken
		}
	}
	switch inv.Kind {
	case "user":
		sealKey, err := crypto.ParseSealPublicKey(userSeal)
		if err != nil || who.GetName() == "" || !strings.EqualFold(who.GetEmail(), inv.Email) {
			return res, nil, nil, ErrEnrolmentBroken
		}
		profile, _ := certificate.ParseProfile(inv.Profile)
		res.UserID = certificate.NewID()
		opening, commitment := certificate.NewIdentity(s.org.ID, res.UserID, who.GetName(), inv.Email)
		return res, []certificate.Statement{
			certificate.UserCreated{UserID: res.UserID, Profile: profile, SealKey: sealKey, IdentityCommitment: commitment},
			certificate.DeviceAdded{DeviceID: res.DeviceID, UserID: res.UserID, Label: who.GetDeviceLabel(), VerifyKey: verifyKey, SealKey: deviceSeal},
		}, map[string][]byte{res.UserID: opening}, nil
	case "device":
		res.UserID = s.keys.UserID
		if me, ok := s.Me(); ok {
			res.Claimer.Name = me.Name
		}
		return res, []certificate.Statement{
			certificate.DeviceAdded{DeviceID: res.DeviceID, UserID: res.UserID, Label: who.GetDeviceLabel(), VerifyKey: verifyKey, SealKey: deviceSeal},
		}, nil, nil
	}
	return res, nil, nil, fmt.Errorf("%w: an invitation of kind %q", ErrEnrolmentBroken, inv.Kind)
}

// sendConfirmation is step 5: the ids and the verified head after the
// append and, for a device, the user's private seal key, sent only now
// that the codes matched and the certificates are published.
func (s *Session) sendConfirmation(ctx context.Context, r *relayEnd, inv Invitation, res GreetResult) error {
	conf := &coffrev1.GreeterConfirmation{
		UserId: res.UserID, DeviceId: res.DeviceID,
		HeadPosition: s.org.Head.Position, HeadHash: s.org.Head.Hash,
	}
	if inv.Kind == "device" {
		// The user's newest key (SPEC.md §15.2): the new device opens what
		// is sealed from the newest rotation on.
		current := s.currentSealKey()
		if current == nil {
			return errNotRotatedHere
		}
		conf.UserSealKey = current.Bytes()
		for _, h := range s.sealKeyHistory() {
			conf.PastUserSealKeys = append(conf.PastUserSealKeys, &coffrev1.PastUserSealKey{Key: h.Key.Bytes(), ReplacedAt: h.ReplacedAt})
		}
	}
	return r.post(ctx, 5, conf)
}
