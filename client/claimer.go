package client

// The claimer's side of an enrolment (SPEC.md §5): Claim runs the steps
// below in order; each function is one step of the spec.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// ClaimOptions are what a claimer says about itself.
type ClaimOptions struct {
	Name        string // for a user invitation
	DeviceLabel string
	// Passphrase is for the new device key file. When nil, Claim asks
	// the Prompter for it (a PassphrasePrompter) once the greeter
	// confirmed, just before writing the key file.
	Passphrase []byte
	// Wait is how long to wait for the greeter at each step (0:
	// DefaultGreeterWait); past it, Claim fails with ErrGreeterTimeout.
	Wait time.Duration
}

// DefaultGreeterWait is how long a claimer waits, by default, for the
// greeter at each step: long enough to call them, short enough that a
// claim left running does not wait forever.
const DefaultGreeterWait = 10 * time.Minute

// ClaimInfo is what the server says an invitation is for, before claiming.
type ClaimInfo struct {
	OrganisationName string
	Invitation       Invitation
}

// InspectInvitation asks the server what an invitation link is for (step 2
// of SPEC.md §5), so the person sees what they are joining before Claim.
func InspectInvitation(ctx context.Context, l link.Link) (ClaimInfo, error) {
	if l.Kind != link.KindUser && l.Kind != link.KindDevice {
		return ClaimInfo{}, fmt.Errorf("%w: not an invitation link", link.ErrBadLink)
	}
	c, err := dial(l, nil)
	if err != nil {
		return ClaimInfo{}, err
	}
	defer c.close()
	resp, err := c.api.ClaimInvitation(ctx, &coffrev1.ClaimInvitationRequest{OrganisationId: l.OrganisationID, Token: l.Token})
	if err != nil {
		return ClaimInfo{}, fromServer(l.Address, err)
	}
	return ClaimInfo{OrganisationName: resp.GetOrganisationName(), Invitation: invitationFromWire(resp.GetInvitation())}, nil
}

// Claim runs the claimer's side of an enrolment (SPEC.md §5) and, when it
// succeeds, leaves a new device in dir: its key file under the passphrase
// and its state verified from the root key in the link.
func Claim(ctx context.Context, dir string, l link.Link, opts ClaimOptions, p Prompter) (*Session, error) {
	if HasDevice(dir) {
		return nil, ErrAlreadyEnrolled
	}
	pp, askLater := p.(PassphrasePrompter)
	if opts.Passphrase != nil || !askLater {
		if err := checkNewPassphrase(opts.Passphrase); err != nil {
			return nil, err
		}
	}
	if opts.DeviceLabel == "" {
		opts.DeviceLabel = defaultDeviceLabel()
	}
	info, err := InspectInvitation(ctx, l)
	if err != nil {
		return nil, err
	}
	if (l.Kind == link.KindUser) != (info.Invitation.Kind == "user") {
		return nil, fmt.Errorf("%w: the link and the server disagree on the kind of invitation", ErrEnrolmentBroken)
	}
	if l.Kind == link.KindUser && opts.Name == "" {
		return nil, errors.New("a new user needs a name (--name)")
	}
	c, err := dial(l, nil)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if opts.Wait <= 0 {
		opts.Wait = DefaultGreeterWait
	}
	r := &relayEnd{api: c.api, address: l.Address, orgID: l.OrganisationID, token: l.Token, side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, patience: opts.Wait}
	keys, conf, err := claim(ctx, r, l, info, opts, p)
	if err != nil {
		r.abort()
		return nil, err
	}
	r.finished = true
	pass := opts.Passphrase
	if pass == nil {
		if pass, err = askNewPassphrase(ctx, pp); err != nil {
			return nil, err
		}
		defer clear(pass)
	}
	return finishClaim(ctx, dir, l, info, keys, conf, pass)
}

// askNewPassphrase asks the claimer for the new device's passphrase once
// the enrolment is done on the server, until one follows the rules.
// Abandoning here leaves an account (or device) on the server with no key
// file on this device: ErrClaimedWithoutKey says so.
func askNewPassphrase(ctx context.Context, p PassphrasePrompter) ([]byte, error) {
	var refused error
	for {
		pass, err := p.NewPassphrase(ctx, refused)
		if err != nil {
			return nil, fmt.Errorf("%w (%v)", ErrClaimedWithoutKey, err)
		}
		if refused = checkNewPassphrase(pass); refused == nil {
			return pass, nil
		}
		clear(pass)
	}
}

// claim runs the relay steps of the claimer's side, one function per step
// of the spec, and returns the new device's keys and the greeter's
// confirmation.
func claim(ctx context.Context, r *relayEnd, l link.Link, info ClaimInfo, opts ClaimOptions, p Prompter) (*deviceKeys, *coffrev1.GreeterConfirmation, error) {
	if err := claimerHandshake(ctx, r, info.Invitation.ID, p); err != nil {
		return nil, nil, err
	}
	greeterCode, claimerCode := r.channel.Codes()
	if err := compareCodes(ctx, r, p, claimerCode, greeterCode); err != nil {
		return nil, nil, err
	}
	keys, err := sendIdentity(ctx, r, l, info, opts)
	if err != nil {
		return nil, nil, err
	}
	p.Progress("codes match; waiting for the greeter to confirm")
	conf, err := receiveConfirmation(ctx, r, l, keys)
	if err != nil {
		return nil, nil, err
	}
	return keys, conf, nil
}

// claimerHandshake is the claimer's part of step 3, relay steps 1–2: post
// its key with a commitment to its nonce (opening a new attempt), wait for
// the greeter's key and nonce, reveal its nonce, and open the channel on
// the transcript.
func claimerHandshake(ctx context.Context, r *relayEnd, invID string, p Prompter) error {
	box, err := crypto.GenerateBoxKey()
	if err != nil {
		return err
	}
	myKey := box.Public()
	myNonce := crypto.RandomBytes(32)
	if err := r.post(ctx, 1, &coffrev1.ClaimerHello{EphemeralKey: myKey[:], NonceCommitment: commitment(myNonce)}); err != nil {
		return err
	}
	p.Progress(fmt.Sprintf("waiting up to %s %s", r.patience, WaitingForGreeter))
	var hello coffrev1.GreeterHello
	if err := r.wait(ctx, 1, &hello); err != nil {
		return err
	}
	if len(hello.GetEphemeralKey()) != 32 || len(hello.GetNonce()) != 32 {
		return ErrEnrolmentBroken
	}
	var greeterKey [32]byte
	copy(greeterKey[:], hello.GetEphemeralKey())
	if err := r.post(ctx, 2, &coffrev1.ClaimerReveal{Nonce: myNonce}); err != nil {
		return err
	}
	r.channel, err = box.NewChannel(greeterKey, transcript(invID, myKey[:], greeterKey[:], myNonce, hello.GetNonce()))
	if err != nil {
		return ErrEnrolmentBroken
	}
	return nil
}

// sendIdentity is the claimer's part of step 4: it makes the new device's
// keys (and, for a new user, the user's seal key) and sends who it is.
func sendIdentity(ctx context.Context, r *relayEnd, l link.Link, info ClaimInfo, opts ClaimOptions) (*deviceKeys, error) {
	keys := &deviceKeys{
		OrganisationLink: l.WithoutSecrets().String(), OrganisationName: info.OrganisationName,
		DeviceLabel: opts.DeviceLabel, StateKey: crypto.NewSecretKey(),
	}
	var err error
	if keys.SigningKey, err = crypto.GenerateSigningKey(); err != nil {
		return nil, err
	}
	if keys.DeviceSealKey, err = newDeviceSealKey(); err != nil {
		return nil, err
	}
	who := &coffrev1.ClaimerIdentity{
		Name: opts.Name, Email: info.Invitation.Email, DeviceLabel: opts.DeviceLabel,
		VerifyKey: keys.SigningKey.Public().Bytes(),
	}
	// For a user, the user's new seal public key; for both, the device's
	// own (SPEC.md §5 step 4, §15.2).
	if l.Kind == link.KindUser {
		if keys.SealKey, err = crypto.GenerateSealKey(); err != nil {
			return nil, err
		}
		who.SealPublicKey = keys.SealKey.Public().Bytes()
	}
	who.DeviceSealPublicKey = keys.DeviceSealKey.Public().Bytes()
	if err := r.post(ctx, 4, who); err != nil {
		return nil, err
	}
	return keys, nil
}

// receiveConfirmation is the claimer's part of step 5: the greeter's
// confirmation gives the new ids (and, for a device, the user's seal
// key), which complete keys.
func receiveConfirmation(ctx context.Context, r *relayEnd, l link.Link, keys *deviceKeys) (*coffrev1.GreeterConfirmation, error) {
	var conf coffrev1.GreeterConfirmation
	if err := r.wait(ctx, 5, &conf); err != nil {
		return nil, err
	}
	if l.Kind == link.KindDevice {
		var err error
		if keys.SealKey, err = crypto.ParseSealKey(conf.GetUserSealKey()); err != nil {
			return nil, ErrEnrolmentBroken
		}
		for _, h := range conf.GetPastUserSealKeys() {
			k, err := crypto.ParseSealKey(h.GetKey())
			if err != nil {
				return nil, ErrEnrolmentBroken
			}
			keys.SealKeyHistory = append(keys.SealKeyHistory, pastSealKey{Key: k, ReplacedAt: h.GetReplacedAt()})
		}
	}
	if !certificate.ValidID(conf.GetUserId()) || !certificate.ValidID(conf.GetDeviceId()) {
		return nil, ErrEnrolmentBroken
	}
	keys.UserID, keys.DeviceID = conf.GetUserId(), conf.GetDeviceId()
	return &conf, nil
}

// finishClaim is step 6: it writes the new device and verifies, from the
// root key in the link, that the log holds exactly the certificates the greeter promised
// and passes through the greeter's head (SPEC.md §4.4). On failure nothing
// is left behind.
func finishClaim(ctx context.Context, dir string, l link.Link, info ClaimInfo, keys *deviceKeys, conf *coffrev1.GreeterConfirmation, passphrase []byte) (_ *Session, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeKeyFile(keyFilePath(dir), keys, passphrase); err != nil {
		return nil, err
	}
	s, err := openWithKeys(dir, keys)
	if err != nil {
		os.Remove(keyFilePath(dir))
		return nil, err
	}
	defer func() {
		if err != nil {
			s.Close()
			os.Remove(keyFilePath(dir))
			os.Remove(statePath(dir))
			os.Remove(statePath(dir) + "-wait")
		}
	}()
	if err := s.Sync(ctx); err != nil {
		return nil, err
	}
	if err := s.checkEnrolled(conf.GetHeadPosition(), conf.GetHeadHash()); err != nil {
		return nil, err
	}
	return s, nil
}

// checkEnrolled checks this device's own certificates in the verified log
// and compares the greeter's head with this device's chain.
func (s *Session) checkEnrolled(headPos uint64, headHash []byte) error {
	d, ok := s.org.Device(s.keys.DeviceID)
	if !ok || d.UserID != s.keys.UserID || !d.VerifyKey.Equal(s.keys.SigningKey.Public()) ||
		(s.keys.DeviceSealKey != nil && !d.SealKey.Equal(s.keys.DeviceSealKey.Public())) {
		return fmt.Errorf("%w: this device's certificate is not in the log as agreed", ErrEnrolmentBroken)
	}
	u, ok := s.org.User(s.keys.UserID)
	if !ok || !u.SealKey.Equal(s.keys.SealKey.Public()) {
		return fmt.Errorf("%w: the user's keys in the log are not the ones exchanged", ErrEnrolmentBroken)
	}
	hash, ok := s.org.HashAt(headPos)
	if !ok || !bytes.Equal(hash, headHash) {
		return fmt.Errorf("%w: the greeter's log head differs from this device's", certificate.ErrFork)
	}
	return nil
}
