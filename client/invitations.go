package client

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Invitations (SPEC.md §5 step 1): created on this device, which keeps what
// it asked for (the greeter signs from that, never from the server's
// listing), listed, cancelled, and found by id or email to greet.

// DefaultInvitationLife is how long an invitation stays usable by default.
const DefaultInvitationLife = 48 * time.Hour

// Invitation is an invitation as the server lists it.
type Invitation struct {
	ID        string
	Kind      string // "user", "device" or "recovery"
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
	switch w.GetKind() {
	case coffrev1.InvitationKind_INVITATION_KIND_DEVICE:
		kind = "device"
	case coffrev1.InvitationKind_INVITATION_KIND_RECOVERY:
		kind = "recovery"
	}
	return Invitation{
		ID: w.GetId(), Kind: kind, Email: w.GetEmail(), Profile: certificate.Profile(w.GetProfile()).String(),
		UserID: w.GetUserId(), CreatedBy: w.GetCreatedBy(), Created: time.UnixMilli(w.GetCreatedMs()),
		Expires: time.UnixMilli(w.GetExpiresMs()), State: w.GetState(), Attempts: int(w.GetAttempts()),
	}
}

// InviteUser creates an invitation for a new user (admins only) and returns
// the link to send them. The token is drawn here and only its hash reaches
// the server (SECURITY.md A19). An email that already has a pending
// invitation is refused with ErrInvitationPending: two links for one
// person would leave one of them working after the other is claimed
// (ReplaceUserInvitation cancels the old one).
func (s *Session) InviteUser(ctx context.Context, email string, p certificate.Profile, life time.Duration) (link.Link, Invitation, error) {
	pending, err := s.pendingUserInvitations(ctx, email)
	if err != nil {
		return link.Link{}, Invitation{}, err
	}
	if len(pending) > 0 {
		inv := pending[0]
		return link.Link{}, Invitation{}, fmt.Errorf("%s (invitation %s, valid until %s): %w",
			inv.Email, inv.ID, inv.Expires.Format(time.RFC3339), ErrInvitationPending)
	}
	return s.invite(ctx, coffrev1.InvitationKind_INVITATION_KIND_USER, email, p, life)
}

// ReplaceUserInvitation cancels the pending invitations for email, whose
// links then stop working, and invites them again as InviteUser does.
func (s *Session) ReplaceUserInvitation(ctx context.Context, email string, p certificate.Profile, life time.Duration) (link.Link, Invitation, error) {
	if life <= 0 {
		return link.Link{}, Invitation{}, ErrInvitationLife
	}
	pending, err := s.pendingUserInvitations(ctx, email)
	if err != nil {
		return link.Link{}, Invitation{}, err
	}
	for _, inv := range pending {
		if err := s.CancelInvitation(ctx, inv.ID); err != nil {
			return link.Link{}, Invitation{}, fmt.Errorf("cancelling invitation %s: %w", inv.ID, err)
		}
	}
	return s.invite(ctx, coffrev1.InvitationKind_INVITATION_KIND_USER, email, p, life)
}

// pendingUserInvitations checks that this user may invite email and lists
// the user invitations for it that can still be claimed.
func (s *Session) pendingUserInvitations(ctx context.Context, email string) ([]Invitation, error) {
	if err := s.requireAdmin(); err != nil {
		return nil, err
	}
	if !strings.Contains(email, "@") {
		return nil, fmt.Errorf("%q is not an email address", email)
	}
	invs, err := s.Invitations(ctx)
	if err != nil {
		return nil, err
	}
	var out []Invitation
	now := time.Now()
	for _, inv := range invs {
		if inv.Kind == "user" && inv.State == "pending" && inv.Expires.After(now) && strings.EqualFold(inv.Email, email) {
			out = append(out, inv)
		}
	}
	return out, nil
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
	switch kind {
	case coffrev1.InvitationKind_INVITATION_KIND_DEVICE:
		l.Kind, inv.Kind, inv.Profile = link.KindDevice, "device", ""
	case coffrev1.InvitationKind_INVITATION_KIND_RECOVERY:
		l.Kind, inv.Kind, inv.Profile = link.KindRecovery, "recovery", ""
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
	return Invitation{}, fmt.Errorf("%d pending %s invitations match: %w", len(match), kind, ErrAmbiguousInvitation)
}
