package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// DefaultInvitationLife is how long an invitation stays usable by default.
const DefaultInvitationLife = 48 * time.Hour

// Prompter is how an enrolment talks to the person at each end: it shows
// this side's code, asks for the code the other person reads aloud, and
// lets the greeter check who is joining before anything is signed.
type Prompter interface {
	ShowCode(code string)
	PeerCode(ctx context.Context) (string, error)
	ConfirmClaimer(ctx context.Context, c Claimer) (bool, error)
	Progress(msg string)
}

// Claimer is who asks to join, as the greeter sees it once the codes matched.
type Claimer struct {
	Name, Email, DeviceLabel string
	Profile                  string // for a new user: the profile they will get
}

// Invitation is an invitation as the server lists it.
type Invitation struct {
	ID        string
	Kind      string // "user" or "device"
	Email     string
	Profile   string
	UserID    string
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	State     string
	Attempts  int
}

func invitationFromWire(w *coffrev1.Invitation) Invitation {
	kind := "user"
	if w.GetKind() == coffrev1.InvitationKind_INVITATION_KIND_DEVICE {
		kind = "device"
	}
	return Invitation{
		ID: w.GetId(), Kind: kind, Email: w.GetEmail(), Profile: certificate.Profile(w.GetProfile()).String(),
		UserID: w.GetUserId(), CreatedBy: w.GetCreatedBy(), Created: time.UnixMilli(w.GetCreatedMs()),
		Expires: time.UnixMilli(w.GetExpiresMs()), State: w.GetState(), Attempts: int(w.GetAttempts()),
	}
}

// InviteUser creates an invitation for a new user (admins only) and returns
// the link to send them. The token is drawn here and only its hash reaches
// the server (SECURITY.md A19).
func (s *Session) InviteUser(ctx context.Context, email string, p certificate.Profile, life time.Duration) (link.Link, Invitation, error) {
	if err := s.requireAdmin(); err != nil {
		return link.Link{}, Invitation{}, err
	}
	if !strings.Contains(email, "@") {
		return link.Link{}, Invitation{}, fmt.Errorf("%q is not an email address", email)
	}
	return s.invite(ctx, coffrev1.InvitationKind_INVITATION_KIND_USER, email, p, life)
}

// InviteDevice creates an invitation for a new device of this device's user.
func (s *Session) InviteDevice(ctx context.Context, life time.Duration) (link.Link, Invitation, error) {
	return s.invite(ctx, coffrev1.InvitationKind_INVITATION_KIND_DEVICE, "", 0, life)
}

func (s *Session) invite(ctx context.Context, kind coffrev1.InvitationKind, email string, p certificate.Profile, life time.Duration) (link.Link, Invitation, error) {
	if life <= 0 {
		return link.Link{}, Invitation{}, ErrInvitationLife
	}
	token := crypto.RandomBytes(32)
	hash := sha256.Sum256(token)
	expires := time.Now().Add(life)
	resp, err := s.conn.api.CreateInvitation(ctx, &coffrev1.CreateInvitationRequest{
		TokenHash: hash[:], Kind: kind, Email: email, Profile: coffrev1.Profile(p), ExpiresMs: expires.UnixMilli(),
	})
	if err != nil {
		return link.Link{}, Invitation{}, fromServer(s.conn.address, err)
	}
	l := s.link.WithoutSecrets()
	l.Kind, l.Token = link.KindUser, token
	inv := Invitation{ID: resp.GetInvitationId(), Kind: "user", Email: email, Profile: p.String(), Expires: expires, State: "pending"}
	if kind == coffrev1.InvitationKind_INVITATION_KIND_DEVICE {
		l.Kind, inv.Kind, inv.Profile = link.KindDevice, "device", ""
	}
	rec := invitationRecord{Kind: inv.Kind, Email: inv.Email, Profile: inv.Profile, Expires: expires}
	if err := s.state.saveInvitation(inv.ID, rec); err != nil {
		s.CancelInvitation(ctx, inv.ID)
		return link.Link{}, Invitation{}, err
	}
	return l, inv, nil
}

// Invitations lists the invitations this device may greet.
func (s *Session) Invitations(ctx context.Context) ([]Invitation, error) {
	resp, err := s.conn.api.ListInvitations(ctx, &coffrev1.ListInvitationsRequest{})
	if err != nil {
		return nil, fromServer(s.conn.address, err)
	}
	var out []Invitation
	for _, w := range resp.GetInvitations() {
		out = append(out, invitationFromWire(w))
	}
	return out, nil
}

// CancelInvitation cancels a pending invitation.
func (s *Session) CancelInvitation(ctx context.Context, id string) error {
	_, err := s.conn.api.CancelInvitation(ctx, &coffrev1.CancelInvitationRequest{InvitationId: id})
	return fromServer(s.conn.address, err)
}

// FindInvitation resolves a pending invitation by id or by email, for greet.
func (s *Session) FindInvitation(ctx context.Context, kind, ref string) (Invitation, error) {
	invs, err := s.Invitations(ctx)
	if err != nil {
		return Invitation{}, err
	}
	var match []Invitation
	for _, inv := range invs {
		if inv.Kind == kind && inv.State == "pending" && (ref == "" || inv.ID == ref || strings.EqualFold(inv.Email, ref)) {
			match = append(match, inv)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0 && ref == "":
		return Invitation{}, fmt.Errorf("no pending %s invitation to greet", kind)
	case len(match) == 0:
		return Invitation{}, fmt.Errorf("no pending %s invitation %q", kind, ref)
	}
	return Invitation{}, fmt.Errorf("%d pending %s invitations match: name one by id (see 'coffre invitation list')", len(match), kind)
}

// relayEnd is one side of an enrolment attempt through the server's relay.
type relayEnd struct {
	api      coffrev1.CoffreServiceClient
	address  string
	orgID    string
	invID    string // greeter
	token    []byte // claimer
	side     coffrev1.RelaySide
	attempt  uint32
	channel  *crypto.Channel
	finished bool
	// sleep, when set, replaces the pause between relay calls (tests).
	sleep func(ctx context.Context, d time.Duration) error
}

// The server holds each RelayWait for up to 20 seconds before answering "not
// yet", but a server that answers at once must not make the client spin:
// calls start at least relayPause apart, doubling up to relayMaxPause.
const (
	relayPause    = 100 * time.Millisecond
	relayMaxPause = 5 * time.Second
)

// pause returns how long to wait before the next call, given the pause
// due and how long the last call took, and the pause due after that.
func pause(due, took time.Duration) (wait, next time.Duration) {
	return max(due-took, 0), min(2*due, relayMaxPause)
}

func (r *relayEnd) pauseFor(ctx context.Context, d time.Duration) error {
	if r.sleep != nil {
		return r.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *relayEnd) post(ctx context.Context, step uint32, m proto.Message) error {
	payload, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	if r.channel != nil {
		// Sealed messages name their side and step, so the relay can't
		// replay one in another place.
		payload = r.channel.Seal(append([]byte{byte(r.side), byte(step)}, payload...))
	}
	resp, err := r.api.RelayPost(ctx, &coffrev1.RelayPostRequest{
		OrganisationId: r.orgID, Token: r.token, InvitationId: r.invID,
		Side: r.side, Attempt: r.attempt, Step: step, Payload: payload,
	})
	if err != nil {
		return fromServer(r.address, err)
	}
	r.attempt = resp.GetAttempt()
	return nil
}

// wait waits for the peer's message of a step, however long the people
// take, until ctx ends.
func (r *relayEnd) wait(ctx context.Context, step uint32, m proto.Message) error {
	peer := coffrev1.RelaySide_RELAY_SIDE_CLAIMER
	if r.side == coffrev1.RelaySide_RELAY_SIDE_CLAIMER {
		peer = coffrev1.RelaySide_RELAY_SIDE_GREETER
	}
	due := relayPause
	for {
		start := time.Now()
		resp, err := r.api.RelayWait(ctx, &coffrev1.RelayWaitRequest{
			OrganisationId: r.orgID, Token: r.token, InvitationId: r.invID,
			Side: peer, Attempt: r.attempt, Step: step,
		})
		if err != nil {
			return fromServer(r.address, err)
		}
		if !resp.GetFound() {
			var d time.Duration
			d, due = pause(due, time.Since(start))
			if err := r.pauseFor(ctx, d); err != nil {
				return err
			}
			continue
		}
		r.attempt = resp.GetAttempt()
		payload := resp.GetPayload()
		if r.channel != nil {
			if payload, err = r.channel.Open(payload); err != nil || len(payload) < 2 ||
				payload[0] != byte(peer) || payload[1] != byte(step) {
				return ErrEnrolmentBroken
			}
			payload = payload[2:]
		}
		if err := proto.Unmarshal(payload, m); err != nil {
			return ErrEnrolmentBroken
		}
		return nil
	}
}

// abort burns the attempt on the server, so both sides stop. It is called
// with a fresh context: the caller's may be the reason for aborting.
func (r *relayEnd) abort() {
	if r.finished || r.attempt == 0 {
		return
	}
	r.finished = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.api.RelayPost(ctx, &coffrev1.RelayPostRequest{
		OrganisationId: r.orgID, Token: r.token, InvitationId: r.invID,
		Side: r.side, Attempt: r.attempt, Abort: true,
	})
}

func commitment(nonce []byte) []byte {
	d := crypto.LabeledSum("enrolment-commitment", nonce)
	return d[:]
}

func transcript(invID string, claimerKey, greeterKey, claimerNonce, greeterNonce []byte) []byte {
	d := crypto.LabeledSum("enrolment-transcript", []byte(invID), claimerKey, greeterKey, claimerNonce, greeterNonce)
	return d[:]
}

// compareCodes asks for the peer's code and tells the peer the result. A
// mismatch aborts the attempt on both sides.
func compareCodes(ctx context.Context, r *relayEnd, p Prompter, mine, theirs string) error {
	p.ShowCode(mine)
	typed, err := p.PeerCode(ctx)
	if err != nil {
		return err
	}
	if !crypto.Equal([]byte(normaliseCode(typed)), []byte(theirs)) {
		r.abort()
		return ErrSASMismatch
	}
	if err := r.post(ctx, 3, &coffrev1.SASResult{Ok: true}); err != nil {
		return err
	}
	var res coffrev1.SASResult
	if err := r.wait(ctx, 3, &res); err != nil {
		return err
	}
	if !res.GetOk() {
		r.abort()
		return ErrSASMismatch
	}
	return nil
}

func normaliseCode(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// GreetResult is what a greeter enrolled.
type GreetResult struct {
	UserID, DeviceID string
	Claimer          Claimer
}

// Greet runs the greeter's side of an enrolment (SPEC.md §5): wait for the
// claimer, exchange keys with a commitment, compare codes through the
// people, check who asks to join, sign and publish their certificates,
// and send the confirmation (with the user's private keys for a device).
func (s *Session) Greet(ctx context.Context, inv Invitation, p Prompter) (res GreetResult, err error) {
	if inv.Kind == "user" {
		if err := s.requireAdmin(); err != nil {
			return res, err
		}
	}
	// What is signed comes from what this device asked for, not from the
	// server's listing (SECURITY.md A7).
	rec, ok, err := s.state.invitation(inv.ID)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, fmt.Errorf("invitation %s was not created on this device: greet from the device that created it", inv.ID)
	}
	if rec.Kind != inv.Kind || (rec.Kind == "user" && (!strings.EqualFold(rec.Email, inv.Email) || rec.Profile != inv.Profile)) {
		return res, fmt.Errorf("%w: the server lists invitation %s differently from how it was created", ErrEnrolmentBroken, inv.ID)
	}
	inv.Kind, inv.Email, inv.Profile = rec.Kind, rec.Email, rec.Profile
	r := &relayEnd{api: s.conn.api, address: s.conn.address, orgID: s.link.OrganisationID, invID: inv.ID, side: coffrev1.RelaySide_RELAY_SIDE_GREETER}
	defer func() {
		if err != nil {
			r.abort()
		}
	}()
	p.Progress("waiting for the invited person to open the link (coffre invitation claim LINK)")
	var hello coffrev1.ClaimerHello
	if err := r.wait(ctx, 1, &hello); err != nil {
		return res, err
	}
	var claimerKey [32]byte
	if len(hello.GetEphemeralKey()) != 32 || len(hello.GetNonceCommitment()) != 32 {
		return res, ErrEnrolmentBroken
	}
	copy(claimerKey[:], hello.GetEphemeralKey())
	box, err := crypto.GenerateBoxKey()
	if err != nil {
		return res, err
	}
	myKey := box.Public()
	myNonce := crypto.RandomBytes(32)
	if err := r.post(ctx, 1, &coffrev1.GreeterHello{EphemeralKey: myKey[:], Nonce: myNonce}); err != nil {
		return res, err
	}
	var reveal coffrev1.ClaimerReveal
	if err := r.wait(ctx, 2, &reveal); err != nil {
		return res, err
	}
	if !crypto.Equal(commitment(reveal.GetNonce()), hello.GetNonceCommitment()) {
		return res, ErrEnrolmentBroken
	}
	r.channel, err = box.NewChannel(claimerKey, transcript(inv.ID, claimerKey[:], myKey[:], reveal.GetNonce(), myNonce))
	if err != nil {
		return res, ErrEnrolmentBroken
	}
	greeterCode, claimerCode := r.channel.Codes()
	if err := compareCodes(ctx, r, p, greeterCode, claimerCode); err != nil {
		return res, err
	}

	var who coffrev1.ClaimerIdentity
	if err := r.wait(ctx, 4, &who); err != nil {
		return res, err
	}
	res.Claimer = Claimer{Name: who.GetName(), Email: who.GetEmail(), DeviceLabel: who.GetDeviceLabel(), Profile: inv.Profile}
	verifyKey, err := crypto.ParseVerifyKey(who.GetVerifyKey())
	if err != nil || who.GetDeviceLabel() == "" {
		return res, ErrEnrolmentBroken
	}
	var stmts []certificate.Statement
	res.DeviceID = certificate.NewID()
	switch inv.Kind {
	case "user":
		sealKey, err := crypto.ParseSealPublicKey(who.GetSealPublicKey())
		if err != nil || who.GetName() == "" || !strings.EqualFold(who.GetEmail(), inv.Email) {
			return res, ErrEnrolmentBroken
		}
		profile, _ := certificate.ParseProfile(inv.Profile)
		res.UserID = certificate.NewID()
		stmts = []certificate.Statement{
			certificate.UserCreated{UserID: res.UserID, Name: who.GetName(), Email: inv.Email, Profile: profile, SealKey: sealKey},
			certificate.DeviceAdded{DeviceID: res.DeviceID, UserID: res.UserID, Label: who.GetDeviceLabel(), VerifyKey: verifyKey},
		}
	case "device":
		res.UserID = s.keys.UserID
		if me, ok := s.Me(); ok {
			res.Claimer.Name = me.Name
		}
		stmts = []certificate.Statement{
			certificate.DeviceAdded{DeviceID: res.DeviceID, UserID: res.UserID, Label: who.GetDeviceLabel(), VerifyKey: verifyKey},
		}
	}
	ok, err = p.ConfirmClaimer(ctx, res.Claimer)
	if err != nil {
		return res, err
	}
	if !ok {
		return res, errors.New("enrolment refused by the greeter")
	}
	if err := s.publish(ctx, inv.ID, func() ([]certificate.Statement, error) { return stmts, nil }); err != nil {
		return res, err
	}
	conf := &coffrev1.GreeterConfirmation{
		UserId: res.UserID, DeviceId: res.DeviceID,
		HeadPosition: s.org.Head.Position, HeadHash: s.org.Head.Hash,
	}
	if inv.Kind == "device" {
		conf.UserSealKey = s.keys.SealKey.Bytes()
	}
	if err := r.post(ctx, 5, conf); err != nil {
		return res, err
	}
	r.finished = true
	return res, nil
}

// ClaimOptions are what a claimer says about itself.
type ClaimOptions struct {
	Name        string // for a user invitation
	DeviceLabel string
	Passphrase  []byte // for the new device key file
}

// ClaimInfo is what the server says an invitation is for, before claiming.
type ClaimInfo struct {
	OrganisationName string
	Invitation       Invitation
}

// InspectInvitation asks the server what an invitation link is for.
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
	if err := checkNewPassphrase(opts.Passphrase); err != nil {
		return nil, err
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
	r := &relayEnd{api: c.api, address: l.Address, orgID: l.OrganisationID, token: l.Token, side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER}
	keys, conf, err := claim(ctx, r, l, info, opts, p)
	if err != nil {
		r.abort()
		return nil, err
	}
	r.finished = true
	return finishClaim(ctx, dir, l, info, keys, conf, opts.Passphrase)
}

func claim(ctx context.Context, r *relayEnd, l link.Link, info ClaimInfo, opts ClaimOptions, p Prompter) (*deviceKeys, *coffrev1.GreeterConfirmation, error) {
	box, err := crypto.GenerateBoxKey()
	if err != nil {
		return nil, nil, err
	}
	myKey := box.Public()
	myNonce := crypto.RandomBytes(32)
	if err := r.post(ctx, 1, &coffrev1.ClaimerHello{EphemeralKey: myKey[:], NonceCommitment: commitment(myNonce)}); err != nil {
		return nil, nil, err
	}
	p.Progress("waiting for the greeter (they run 'coffre user greet' or 'coffre device greet')")
	var hello coffrev1.GreeterHello
	if err := r.wait(ctx, 1, &hello); err != nil {
		return nil, nil, err
	}
	if len(hello.GetEphemeralKey()) != 32 || len(hello.GetNonce()) != 32 {
		return nil, nil, ErrEnrolmentBroken
	}
	var greeterKey [32]byte
	copy(greeterKey[:], hello.GetEphemeralKey())
	if err := r.post(ctx, 2, &coffrev1.ClaimerReveal{Nonce: myNonce}); err != nil {
		return nil, nil, err
	}
	r.channel, err = box.NewChannel(greeterKey, transcript(info.Invitation.ID, myKey[:], greeterKey[:], myNonce, hello.GetNonce()))
	if err != nil {
		return nil, nil, ErrEnrolmentBroken
	}
	greeterCode, claimerCode := r.channel.Codes()
	if err := compareCodes(ctx, r, p, claimerCode, greeterCode); err != nil {
		return nil, nil, err
	}

	keys := &deviceKeys{
		OrganisationLink: l.WithoutSecrets().String(), OrganisationName: info.OrganisationName,
		DeviceLabel: opts.DeviceLabel, StateKey: crypto.NewSecretKey(),
	}
	if keys.SigningKey, err = crypto.GenerateSigningKey(); err != nil {
		return nil, nil, err
	}
	who := &coffrev1.ClaimerIdentity{
		Name: opts.Name, Email: info.Invitation.Email, DeviceLabel: opts.DeviceLabel,
		VerifyKey: keys.SigningKey.Public().Bytes(),
	}
	if l.Kind == link.KindUser {
		if keys.SealKey, err = crypto.GenerateSealKey(); err != nil {
			return nil, nil, err
		}
		who.SealPublicKey = keys.SealKey.Public().Bytes()
	}
	if err := r.post(ctx, 4, who); err != nil {
		return nil, nil, err
	}
	p.Progress("codes match; waiting for the greeter to confirm")
	var conf coffrev1.GreeterConfirmation
	if err := r.wait(ctx, 5, &conf); err != nil {
		return nil, nil, err
	}
	if l.Kind == link.KindDevice {
		if keys.SealKey, err = crypto.ParseSealKey(conf.GetUserSealKey()); err != nil {
			return nil, nil, ErrEnrolmentBroken
		}
	}
	if !certificate.ValidID(conf.GetUserId()) || !certificate.ValidID(conf.GetDeviceId()) {
		return nil, nil, ErrEnrolmentBroken
	}
	keys.UserID, keys.DeviceID = conf.GetUserId(), conf.GetDeviceId()
	return keys, &conf, nil
}

// finishClaim writes the new device and verifies, from the root key in the
// link, that the log holds exactly the certificates the greeter promised
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
	if !ok || d.UserID != s.keys.UserID || !d.VerifyKey.Equal(s.keys.SigningKey.Public()) {
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
