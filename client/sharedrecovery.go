package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/crypto/shamir"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Shared recovery (SPEC.md §15.6): the recovery file of §15.5, published
// in the log, under a secret split among chosen members (K of N); each
// member sends their share to the person recovering through an exchange
// like enrolment's (§5), after comparing codes by voice. K shares rebuild
// the secret and the import of §15.5 runs.

var (
	// ErrNoSharedRecovery: the user has published no shared recovery.
	ErrNoSharedRecovery = errors.New("this user has no shared recovery")
	// ErrNotRecoveryMember: this user holds no share of that user's
	// current shared recovery.
	ErrNotRecoveryMember = errors.New("you hold no share of this user's current shared recovery: only the members it names can help")
	// ErrTooFewShares: fewer shares than the threshold were received.
	ErrTooFewShares = errors.New("not enough shares to rebuild the recovery secret: get a link from more of the members")
	// ErrRecoverySharesWrong: the shares received do not rebuild the
	// secret of the recovery file (a share is wrong, or too few of them).
	ErrRecoverySharesWrong = errors.New("the shares received do not rebuild the recovery secret: nothing was enrolled")
	// ErrShareNotCounted: a share did not come from an active member
	// named in the user's current shared recovery, as the verified log
	// says; nothing was enrolled.
	ErrShareNotCounted = errors.New("a share did not come from an active member of the user's current shared recovery: nothing was enrolled")
)

// Domain separation of shares (SPEC.md §15.6).
const (
	recoveryShareContext    = "recovery-share"
	recoveryShareCommitment = "recovery-share-commitment"
	recoveryShareAAD        = "recovery-share-aad"
)

// shareAAD binds a sealed share to where it belongs.
func shareAAD(orgID, userID, memberID, recoveryDeviceID string) []byte {
	d := crypto.LabeledSum(recoveryShareAAD, []byte(orgID), []byte(userID), []byte(memberID), []byte(recoveryDeviceID))
	return d[:]
}

func shareCommitment(orgID, userID, memberID, recoveryDeviceID string, share []byte) []byte {
	d := crypto.LabeledSum(recoveryShareCommitment, []byte(orgID), []byte(userID), []byte(memberID), []byte(recoveryDeviceID), share)
	return d[:]
}

// ShareRecovery enrols a recovery device of this user, as ExportRecovery
// does, and publishes its file in the log with the secret split among the
// members (ids or emails), any threshold of whom rebuild it. A previous
// shared recovery is replaced and its recovery device revoked in the same
// append, so the old shares open nothing.
func (s *Session) ShareRecovery(ctx context.Context, members []string, threshold int) (*certificate.SharedRecovery, error) {
	if threshold < 1 || threshold > len(members) {
		return nil, fmt.Errorf("a threshold of %d for %d members: choose 1 to %d", threshold, len(members), len(members))
	}
	if len(members) > certificate.MaxRecoveryMembers {
		return nil, fmt.Errorf("%d members: at most %d", len(members), certificate.MaxRecoveryMembers)
	}
	// The recovery device holds the user's newest keys and its own seal
	// key, as ExportRecovery's does (SPEC.md §15.2).
	keys, err := s.newRecoveryDevice("shared recovery")
	if err != nil {
		return nil, err
	}
	secret := []byte(strings.ReplaceAll(newRecoverySecret(), "-", ""))
	defer clear(secret)
	pass, _ := parseRecoverySecret(string(secret))
	file, err := keyFileBytes(keys, pass)
	if err != nil {
		return nil, err
	}
	shares, err := shamir.Split(secret, len(members), threshold, rand.Reader)
	if err != nil {
		return nil, err
	}
	err = s.publish(ctx, "", func() ([]certificate.Statement, error) {
		set := certificate.SharedRecoverySet{UserID: keys.UserID, RecoveryDeviceID: keys.DeviceID, Threshold: threshold, RecoveryFile: file}
		seen := map[string]bool{}
		for i, ref := range members {
			u, err := s.FindUser(ref)
			if err != nil {
				return nil, err
			}
			switch {
			case u.Revoked():
				return nil, refuse(ErrUserRevoked, "%s is revoked: choose an active member", ref)
			case u.ID == keys.UserID:
				return nil, refuse(ErrSelf, "you can't hold a share of your own recovery: choose other members")
			case seen[u.ID]:
				return nil, fmt.Errorf("%s is named twice: name each member once", ref)
			}
			seen[u.ID] = true
			plain := append([]byte{shares[i].X}, shares[i].Y...)
			sealed, err := crypto.SealTo(u.SealKey, recoveryShareContext, shareAAD(s.org.ID, keys.UserID, u.ID, keys.DeviceID), plain)
			if err != nil {
				return nil, err
			}
			set.Shares = append(set.Shares, certificate.RecoveryShare{MemberID: u.ID, Sealed: sealed,
				Commitment: shareCommitment(s.org.ID, keys.UserID, u.ID, keys.DeviceID, plain)})
			clear(plain)
		}
		stmts := []certificate.Statement{keys.deviceAdded()}
		if old, ok := s.org.SharedRecovery(keys.UserID); ok {
			if d, ok := s.org.Device(old.RecoveryDeviceID); ok && !d.Revoked() && old.RecoveryDeviceID != s.keys.DeviceID {
				stmts = append(stmts, certificate.DeviceRevoked{DeviceID: old.RecoveryDeviceID})
			}
		}
		return append(stmts, set), nil
	})
	for i := range shares {
		clear(shares[i].Y)
	}
	if err != nil {
		return nil, err
	}
	r, _ := s.org.SharedRecovery(keys.UserID)
	return r, nil
}

// keyFileBytes is a key file's bytes (SPEC.md §9) under passphrase.
func keyFileBytes(keys *deviceKeys, passphrase []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "coffre-shared-recovery-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "recovery.age")
	if err := writeKeyFile(path, keys, passphrase); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// keysFromFileBytes opens a key file's bytes with passphrase.
func keysFromFileBytes(file, passphrase []byte) (*deviceKeys, error) {
	dir, err := os.MkdirTemp("", "coffre-shared-recovery-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "recovery.age")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		return nil, err
	}
	return readKeyFile(path, passphrase)
}

// recoveryShareFor finds this user's share of u's current shared
// recovery: u active, the recovery naming this user, its recovery device
// active.
func (s *Session) recoveryShareFor(u *certificate.User) (*certificate.SharedRecovery, certificate.RecoveryShare, error) {
	var none certificate.RecoveryShare
	if u.Revoked() {
		return nil, none, refuse(ErrUserRevoked, "%s is revoked: their account can't be recovered", u.Email)
	}
	cur, ok := s.org.SharedRecovery(u.ID)
	if !ok {
		return nil, none, ErrNoSharedRecovery
	}
	sh, ok := cur.Share(s.keys.UserID)
	if !ok {
		return nil, none, ErrNotRecoveryMember
	}
	if _, _, err := s.org.ActiveDevice(cur.RecoveryDeviceID); err != nil {
		return nil, none, fmt.Errorf("%w (%v)", ErrRecoveryRevoked, err)
	}
	return cur, sh, nil
}

// RecoveryHelpable checks, on the verified log, that this user may help
// ref recover: ref is active and their current shared recovery names this
// user, with an active recovery device. It returns ref's user.
func (s *Session) RecoveryHelpable(ref string) (*certificate.User, error) {
	u, err := s.FindUser(ref)
	if err != nil {
		return nil, err
	}
	if u.ID == s.keys.UserID {
		return nil, refuse(ErrSelf, "you can't help yourself recover: ask the members who hold your shares")
	}
	if _, _, err := s.recoveryShareFor(u); err != nil {
		return nil, err
	}
	return u, nil
}

// InviteRecovery creates a recovery invitation for ref (SPEC.md §15.6),
// after checking that this user holds a share of their recovery, and
// returns the link to send them.
func (s *Session) InviteRecovery(ctx context.Context, ref string, life time.Duration) (link.Link, Invitation, error) {
	if err := s.Sync(ctx); err != nil {
		return link.Link{}, Invitation{}, err
	}
	u, err := s.RecoveryHelpable(ref)
	if err != nil {
		return link.Link{}, Invitation{}, err
	}
	who := u.Email
	if who == "" {
		who = u.ID
	}
	return s.invite(ctx, coffrev1.InvitationKind_INVITATION_KIND_RECOVERY, who, 0, life)
}

// GreetRecovery runs the member's side of a recovery exchange for inv,
// an invitation this device created: wait for the person, compare codes,
// then, on the log as it is now, open this member's share of the user's
// current shared recovery and, once the member's person confirms, send it
// with the recovery file inside the channel. The invitation is cancelled
// once the person acknowledged it.
func (s *Session) GreetRecovery(ctx context.Context, inv Invitation, p Prompter) (err error) {
	if inv, err = s.greetable(inv); err != nil {
		return err
	}
	if inv.Kind != "recovery" {
		return fmt.Errorf("invitation %s is not a recovery invitation", inv.ID)
	}
	r := &relayEnd{api: s.conn.api, address: s.conn.address, orgID: s.link.OrganisationID, invID: inv.ID, side: coffrev1.RelaySide_RELAY_SIDE_GREETER}
	defer func() {
		if err != nil {
			r.abort()
		}
	}()
	p.Progress(WaitingForClaimer)
	if err := greeterHandshake(ctx, r, inv.ID); err != nil {
		return err
	}
	greeterCode, claimerCode := r.channel.Codes()
	if err := compareCodes(ctx, r, p, greeterCode, claimerCode); err != nil {
		return err
	}
	// The share is opened only now, after the codes matched, from the
	// newest verified log.
	if err := s.Sync(ctx); err != nil {
		return err
	}
	u, err := s.RecoveryHelpable(inv.Email)
	if err != nil {
		return err
	}
	cur, sh, _ := s.recoveryShareFor(u)
	// Sealed to this member's key in force when the statement was signed,
	// which a rotation of the member's keys since has not taken away.
	mine := s.sealKeyAt(s.org, cur.Position)
	if mine == nil {
		return errNotRotatedHere
	}
	share, err := mine.Open(recoveryShareContext, shareAAD(s.org.ID, u.ID, s.keys.UserID, cur.RecoveryDeviceID), sh.Sealed)
	if err != nil || !crypto.Equal(shareCommitment(s.org.ID, u.ID, s.keys.UserID, cur.RecoveryDeviceID, share), sh.Commitment) {
		return fmt.Errorf("%w: your share of %s's recovery does not open or does not match its commitment", ErrBadLog, inv.Email)
	}
	defer clear(share)
	ok, err := p.ConfirmClaimer(ctx, Claimer{Name: u.Name, Email: u.Email, DeviceLabel: "recovery"})
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("recovery refused: your share was not sent")
	}
	if err := r.post(ctx, 5, &coffrev1.RecoveryShare{
		UserId: u.ID, RecoveryDeviceId: cur.RecoveryDeviceID, Threshold: uint32(cur.Threshold),
		MemberUserId: s.keys.UserID, Share: share, RecoveryFile: cur.RecoveryFile,
	}); err != nil {
		return err
	}
	var ack coffrev1.SASResult
	r.patience = DefaultGreeterWait
	if err := r.wait(ctx, recoveryAckStep, &ack); err != nil {
		return err
	}
	r.finished = true
	s.CancelInvitation(ctx, inv.ID) // used: its link must not start another exchange
	return nil
}

// RecoverOptions are what the person recovering chooses.
type RecoverOptions struct {
	DeviceLabel string
	Passphrase  []byte // for the new device's key file
	// Wait is how long to wait for a member at each step (0:
	// DefaultGreeterWait).
	Wait time.Duration
}

// receivedShare is a share as a member sent it.
type receivedShare struct {
	userID, recoveryDeviceID, memberID string
	threshold                          int
	share                              shamir.Share
	raw                                []byte // x || y
	file                               []byte
}

// RecoverWithShares runs one recovery exchange per link (each from one
// member), in order, and, with at least the threshold of shares, rebuilds
// the recovery secret, opens the recovery file and enrols a new device of
// its user in dir, signed by the recovery device (SPEC.md §15.5–15.6).
// Before signing, on the log the recovery device verified from the root
// key, every share must match the commitment of an active member named in
// the user's current shared recovery.
func RecoverWithShares(ctx context.Context, dir string, links []link.Link, opts RecoverOptions, p Prompter) (*Session, error) {
	if HasDevice(dir) {
		return nil, ErrAlreadyEnrolled
	}
	if err := checkNewPassphrase(opts.Passphrase); err != nil {
		return nil, err
	}
	if len(links) == 0 {
		return nil, errors.New("no recovery link: ask the members who hold your shares for one each")
	}
	for i, l := range links {
		if l.Kind != link.KindRecovery {
			return nil, fmt.Errorf("%w: link %d is not a recovery link", link.ErrBadLink, i+1)
		}
	}
	if opts.Wait <= 0 {
		opts.Wait = DefaultGreeterWait
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	got, err := loadPendingShares(dir, opts.Passphrase)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, g := range got {
			clear(g.raw)
			clear(g.share.Y)
		}
	}()
	for i, l := range links {
		if l.WithoutSecrets().String() != links[0].WithoutSecrets().String() {
			return nil, fmt.Errorf("%w: link %d is of another organisation or server than the first", link.ErrBadLink, i+1)
		}
	}
	for i, l := range links {
		p.Progress(fmt.Sprintf("share %d of %d", len(got)+1, max(len(got)+len(links)-i, threshold(got))))
		sh, err := receiveShare(ctx, l, opts, p)
		if err != nil {
			return nil, fmt.Errorf("link %d: %w", i+1, err)
		}
		if err := consistent(got, sh); err != nil {
			return nil, fmt.Errorf("link %d: %w", i+1, err)
		}
		got = append(got, sh)
		if len(got) < sh.threshold {
			// Kept, so that a later claim goes on from here: fewer
			// shares than the threshold tell nothing about the secret.
			if err := savePendingShares(dir, opts.Passphrase, got); err != nil {
				return nil, err
			}
		}
	}
	if len(got) < got[0].threshold {
		return nil, fmt.Errorf("%d of the %d shares needed, kept in %s until the others come: %w",
			len(got), got[0].threshold, filepath.Join(dir, pendingSharesFile), ErrTooFewShares)
	}
	// Whatever happens now, the shares kept are not needed again: a
	// wrong one among them would otherwise spoil every later claim.
	defer os.Remove(filepath.Join(dir, pendingSharesFile))
	shares := make([]shamir.Share, len(got))
	for i, g := range got {
		shares[i] = g.share
	}
	secret, err := shamir.Combine(shares)
	if err != nil {
		return nil, ErrRecoverySharesWrong
	}
	defer clear(secret)
	pass, err := parseRecoverySecret(string(secret))
	if err != nil {
		return nil, ErrRecoverySharesWrong
	}
	rec, err := keysFromFileBytes(got[0].file, pass)
	if errors.Is(err, crypto.ErrWrongPassphrase) {
		return nil, ErrRecoverySharesWrong
	}
	if err != nil {
		return nil, err
	}
	rl := rec.link()
	if rl.OrganisationID != links[0].OrganisationID || !rl.Root.Equal(links[0].Root) || rec.UserID != got[0].userID || rec.DeviceID != got[0].recoveryDeviceID {
		return nil, fmt.Errorf("%w: the recovery file is of another organisation, user or device than the links say", ErrEnrolmentBroken)
	}
	return importRecovery(ctx, rec, dir, opts.DeviceLabel, opts.Passphrase, func(org *certificate.Organisation) error {
		return sharesCount(org, got)
	})
}

// threshold is the threshold the shares received so far name (0: none).
func threshold(got []receivedShare) int {
	if len(got) == 0 {
		return 0
	}
	return got[0].threshold
}

// consistent checks that a new share belongs with those received before:
// the same user, recovery device, threshold and file, another member and x.
func consistent(got []receivedShare, sh receivedShare) error {
	if len(got) == 0 {
		return nil
	}
	first := got[0]
	if sh.userID != first.userID || sh.recoveryDeviceID != first.recoveryDeviceID || sh.threshold != first.threshold || !bytes.Equal(sh.file, first.file) {
		return fmt.Errorf("%w: this share belongs to another recovery than the first one (if the user shared again since, remove %s and ask for new links)",
			ErrEnrolmentBroken, pendingSharesFile)
	}
	for _, g := range got {
		if g.share.X == sh.share.X || g.memberID == sh.memberID {
			return fmt.Errorf("%w: the same member or share twice", ErrEnrolmentBroken)
		}
	}
	return nil
}

// pendingSharesFile, in the new device's directory, keeps the shares a
// claim received while fewer than the threshold, encrypted under the new
// device's passphrase (SPEC.md §15.6).
const pendingSharesFile = "recovery-shares.age"

type pendingShare struct {
	UserID           string `json:"user_id"`
	RecoveryDeviceID string `json:"recovery_device_id"`
	MemberID         string `json:"member_user_id"`
	Threshold        int    `json:"threshold"`
	Share            []byte `json:"share"`
	File             []byte `json:"recovery_file"`
}

func savePendingShares(dir string, passphrase []byte, got []receivedShare) error {
	var list []pendingShare
	for _, g := range got {
		list = append(list, pendingShare{UserID: g.userID, RecoveryDeviceID: g.recoveryDeviceID, MemberID: g.memberID,
			Threshold: g.threshold, Share: g.raw, File: g.file})
	}
	plain, err := json.Marshal(list)
	if err != nil {
		return err
	}
	defer clear(plain)
	sealed, err := crypto.EncryptWithPassphrase(passphrase, plain)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, pendingSharesFile), sealed, 0o600)
}

// loadPendingShares reads the shares an earlier claim kept, if any.
func loadPendingShares(dir string, passphrase []byte) ([]receivedShare, error) {
	path := filepath.Join(dir, pendingSharesFile)
	sealed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	plain, err := crypto.DecryptWithPassphrase(passphrase, sealed)
	if err != nil {
		return nil, fmt.Errorf("the shares kept in %s do not open with this passphrase: give the one chosen with the first link (%w)", path, err)
	}
	defer clear(plain)
	var list []pendingShare
	if err := json.Unmarshal(plain, &list); err != nil || len(list) == 0 {
		return nil, fmt.Errorf("the shares kept in %s are damaged: remove it and ask for new links", path)
	}
	var got []receivedShare
	for _, ps := range list {
		if len(ps.Share) != 31 || ps.Share[0] == 0 {
			return nil, fmt.Errorf("the shares kept in %s are damaged: remove it and ask for new links", path)
		}
		sh := receivedShare{userID: ps.UserID, recoveryDeviceID: ps.RecoveryDeviceID, memberID: ps.MemberID, threshold: ps.Threshold,
			raw: ps.Share, file: ps.File, share: shamir.Share{X: ps.Share[0], Y: append([]byte(nil), ps.Share[1:]...)}}
		if err := consistent(got, sh); err != nil {
			return nil, err
		}
		got = append(got, sh)
	}
	return got, nil
}

// sharesCount checks every share against the verified log: the user's
// current shared recovery is the one the shares are of, and each share is
// the committed one of an active member it names.
func sharesCount(org *certificate.Organisation, got []receivedShare) error {
	cur, ok := org.SharedRecovery(got[0].userID)
	if !ok || cur.RecoveryDeviceID != got[0].recoveryDeviceID || cur.Threshold != got[0].threshold {
		return fmt.Errorf("%w: the shares are not of the user's current shared recovery", ErrShareNotCounted)
	}
	for _, g := range got {
		sh, ok := cur.Share(g.memberID)
		u, known := org.User(g.memberID)
		if !ok || !known || u.Revoked() ||
			!crypto.Equal(shareCommitment(org.ID, g.userID, g.memberID, g.recoveryDeviceID, g.raw), sh.Commitment) {
			return fmt.Errorf("%w (member %s)", ErrShareNotCounted, g.memberID)
		}
	}
	return nil
}

// receiveShare is the person's side of one recovery exchange: the relay
// handshake and codes of SPEC.md §5, then the member's share, acknowledged.
func receiveShare(ctx context.Context, l link.Link, opts RecoverOptions, p Prompter) (_ receivedShare, err error) {
	var out receivedShare
	c, err := dial(l, nil)
	if err != nil {
		return out, err
	}
	defer c.close()
	resp, err := c.api.ClaimInvitation(ctx, &coffrev1.ClaimInvitationRequest{OrganisationId: l.OrganisationID, Token: l.Token})
	if err != nil {
		return out, fromServer(l.Address, err)
	}
	inv := invitationFromWire(resp.GetInvitation())
	if inv.Kind != "recovery" {
		return out, fmt.Errorf("%w: the link and the server disagree on the kind of invitation", ErrEnrolmentBroken)
	}
	p.Progress(fmt.Sprintf("recovering %s in %s", inv.Email, resp.GetOrganisationName()))
	r := &relayEnd{api: c.api, address: l.Address, orgID: l.OrganisationID, token: l.Token, side: coffrev1.RelaySide_RELAY_SIDE_CLAIMER, patience: opts.Wait}
	defer func() {
		if err != nil {
			r.abort()
		}
	}()
	if err := claimerHandshake(ctx, r, inv.ID, p); err != nil {
		return out, err
	}
	greeterCode, claimerCode := r.channel.Codes()
	if err := compareCodes(ctx, r, p, claimerCode, greeterCode); err != nil {
		return out, err
	}
	p.Progress("codes match; waiting for the member to send their share")
	var m coffrev1.RecoveryShare
	if err := r.wait(ctx, 5, &m); err != nil {
		return out, err
	}
	raw := m.GetShare()
	if len(raw) != 31 || raw[0] == 0 || !certificate.ValidID(m.GetUserId()) || !certificate.ValidID(m.GetRecoveryDeviceId()) ||
		!certificate.ValidID(m.GetMemberUserId()) || m.GetThreshold() < 1 || len(m.GetRecoveryFile()) == 0 {
		return out, ErrEnrolmentBroken
	}
	if err := r.post(ctx, recoveryAckStep, &coffrev1.SASResult{Ok: true}); err != nil {
		return out, err
	}
	r.finished = true
	return receivedShare{
		userID: m.GetUserId(), recoveryDeviceID: m.GetRecoveryDeviceId(), memberID: m.GetMemberUserId(),
		threshold: int(m.GetThreshold()), raw: raw, file: m.GetRecoveryFile(),
		share: shamir.Share{X: raw[0], Y: append([]byte(nil), raw[1:]...)},
	}, nil
}
