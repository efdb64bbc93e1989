package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/wire"
)

const (
	maxLogPage         = 1000
	maxReadBytes       = 8 << 20
	maxInvitationLife  = 30 * 24 * time.Hour
	relayWaitTimeout   = 20 * time.Second
	maxCertificateSize = 4 << 20 // a key rotation holds a sealed key (~1.2 KB) per member
)

// GetOrganisation tells a client the name and whether it is bootstrapped.
func (s *Server) GetOrganisation(ctx context.Context, req *coffrev1.GetOrganisationRequest) (*coffrev1.GetOrganisationResponse, error) {
	org, err := s.cfg.Store.Organisation(ctx, req.GetOrganisationId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errOrganisationUnknown
	}
	if err != nil {
		return nil, err
	}
	return &coffrev1.GetOrganisationResponse{Name: org.Name, Bootstrapped: org.RootVerifyKey != nil}, nil
}

// Bootstrap publishes the first two certificates, signed by the new root
// key, with the bootstrap token (SPEC.md §4.1).
func (s *Server) Bootstrap(ctx context.Context, req *coffrev1.BootstrapRequest) (*coffrev1.BootstrapResponse, error) {
	rec, err := s.cfg.Store.Organisation(ctx, req.GetOrganisationId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errOrganisationUnknown
	}
	if err != nil {
		return nil, err
	}
	if rec.RootVerifyKey != nil {
		return nil, wire.ErrAlreadyBootstrapped
	}
	root, err := crypto.ParseVerifyKey(req.GetRootVerifyKey())
	if err != nil || len(req.GetCertificates()) != 2 {
		return nil, errBadRequest
	}
	org := certificate.NewOrganisation(rec.ID, root)
	entries, _, err := s.check(org, req.GetCertificates(), "")
	if err != nil {
		return nil, err
	}
	hash := sha256.Sum256(req.GetToken())
	if err := s.cfg.Store.Bootstrap(ctx, rec.ID, hash[:], root.Bytes(), entries, s.cfg.Now()); err != nil {
		return nil, err
	}
	s.log.Info("organisation bootstrapped", "organisation", rec.ID)
	s.publishHead(rec.ID, org.Head.Position)
	return &coffrev1.BootstrapResponse{}, nil
}

// check applies signed certificates to org (a private copy) with every rule
// of SPEC.md §3.3, as the client will, and checks that each was signed by
// author (when not empty) within the allowed clock skew. It returns the log
// entries to store and, for what follows the append, the certificates
// parsed (a key rotation in a vault of 1,000 members is 1 MB to parse).
func (s *Server) check(org *certificate.Organisation, certs [][]byte, author string) ([]store.LogEntry, []*certificate.Certificate, error) {
	now := s.cfg.Now()
	var entries []store.LogEntry
	var parsed []*certificate.Certificate
	for _, data := range certs {
		if len(data) > maxCertificateSize {
			return nil, nil, errBadRequest
		}
		prev := org.Head.Hash
		// Rights are checked at the server's clock too: a certificate may
		// claim any time within the skew (SECURITY.md A24).
		cert, opening, err := checkIdentity(org.ID, data)
		if err != nil {
			s.log.Info("certificate refused", "organisation", org.ID, "reason", err.Error())
			return nil, nil, wire.ErrCertificateRefused
		}
		c, err := org.ApplyAt(org.Head.Position+1, cert, now)
		if err == nil {
			err = knowIdentity(org, c, opening)
		}
		switch {
		case errors.Is(err, certificate.ErrChain):
			return nil, nil, certificate.ErrConflict
		case err != nil:
			s.log.Info("certificate refused", "organisation", org.ID, "reason", err.Error())
			return nil, nil, wire.ErrCertificateRefused
		case author != "" && c.Author != author:
			return nil, nil, wire.ErrCertificateRefused
		case c.Time.Before(now.Add(-wire.MaxSkew)) || c.Time.After(now.Add(wire.MaxSkew)):
			return nil, nil, wire.ErrCertificateRefused
		}
		entries = append(entries, store.LogEntry{
			Position: org.Head.Position, PrevHash: prev, Hash: org.Head.Hash, Data: data, ReceivedAt: now,
		})
		parsed = append(parsed, c)
	}
	return entries, parsed, nil
}

// Hello records the device's connection and returns the one before
// (CNIL's last-connection rule).
func (s *Server) Hello(ctx context.Context, _ *coffrev1.HelloRequest) (*coffrev1.HelloResponse, error) {
	c := callerFrom(ctx)
	cur := store.Connection{DeviceID: c.device.ID, Time: s.cfg.Now(), Address: peerAddr(ctx)}
	prev, err := s.cfg.Store.RecordConnection(ctx, c.orgID, cur)
	if err != nil {
		return nil, err
	}
	resp := &coffrev1.HelloResponse{Current: connectionToWire(cur)}
	if !prev.Time.IsZero() {
		resp.Previous = connectionToWire(prev)
	}
	return resp, nil
}

// GetLog returns log entries from a position.
func (s *Server) GetLog(ctx context.Context, req *coffrev1.GetLogRequest) (*coffrev1.GetLogResponse, error) {
	c := callerFrom(ctx)
	limit := int(req.GetLimit())
	if limit <= 0 || limit > maxLogPage {
		limit = maxLogPage
	}
	from := max(req.GetFrom(), 1)
	// The head first, then the entries up to it: an append between the
	// two reads must not make the answer claim entries it doesn't carry.
	head, err := s.cfg.Store.LogHead(ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	entries, err := s.cfg.Store.ReadLog(ctx, c.orgID, from, limit)
	if err != nil {
		return nil, err
	}
	out := page(head, entries)
	redactIdentities(c.org, c.user, out)
	return &coffrev1.GetLogResponse{HeadPosition: head.Position, Entries: out}, nil
}

// page turns the entries read after the head into an answer: none past
// that head, and no more than maxReadBytes (at least one), well under the
// client's message limit — key rotations of large vaults and manifests of
// large files are large.
func page(head store.Head, entries []store.LogEntry) []*coffrev1.LogEntry {
	var out []*coffrev1.LogEntry
	size := 0
	for _, e := range entries {
		if e.Position > head.Position {
			break
		}
		if size += len(e.Data); size > maxReadBytes && len(out) > 0 {
			break
		}
		out = append(out, &coffrev1.LogEntry{Position: e.Position, Data: e.Data})
	}
	return out
}

// AppendCertificates appends certificates signed by the calling device,
// after checking them against every rule (defence in depth: clients check
// them too). With an invitation id, the certificates must be the ones that
// complete that invitation, which is spent in the same transaction.
func (s *Server) AppendCertificates(ctx context.Context, req *coffrev1.AppendCertificatesRequest) (*coffrev1.AppendCertificatesResponse, error) {
	c := callerFrom(ctx)
	if len(req.GetCertificates()) == 0 || len(req.GetCertificates()) > 100 {
		return nil, errBadRequest
	}
	st, err := s.orgState(ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	st.appendMu.Lock()
	defer st.appendMu.Unlock()
	before, err := s.state(ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	org := before.Clone() // applied to below: the snapshot stays as it is
	entries, certs, err := s.check(org, req.GetCertificates(), c.device.ID)
	if err != nil {
		return nil, err
	}
	if err := s.checkUserLimit(ctx, c.orgID, before, org); err != nil {
		return nil, err
	}
	if id := req.GetInvitationId(); id != "" {
		inv, err := s.cfg.Store.Invitation(ctx, c.orgID, id)
		if err != nil {
			return nil, errInvitationUnusable
		}
		if !canGreet(c, inv) || !completes(before, org, inv, entries) {
			return nil, wire.ErrCertificateRefused
		}
	}
	head, err := s.cfg.Store.AppendLog(ctx, c.orgID, entries, req.GetInvitationId(), s.cfg.Now())
	if err != nil {
		return nil, err
	}
	if id := req.GetInvitationId(); id != "" {
		s.bus.Publish(c.orgID, invitationEvent(id, store.InvitationSpent))
	}
	if head.Position == org.Head.Position && bytes.Equal(head.Hash, org.Head.Hash) {
		st.adopt(before, org)
	}
	s.publishHead(c.orgID, head.Position)
	s.publishEmergencies(c.orgID, certs)
	return &coffrev1.AppendCertificatesResponse{HeadPosition: head.Position}, nil
}

// completes reports whether the appended entries are exactly what the
// invitation allows: a user with the invited email and profile and their
// first device, or one device for the invited user.
func completes(before, after *certificate.Organisation, inv store.Invitation, entries []store.LogEntry) bool {
	var stmts []certificate.Statement
	var opening []byte
	for i, e := range entries {
		cert, o, err := certificate.SplitIdentity(e.Data)
		if err != nil {
			return false
		}
		c, err := certificate.Parse(cert)
		if err != nil {
			return false
		}
		stmts = append(stmts, c.Statement)
		if i == 0 {
			opening = o
		}
	}
	switch inv.Kind {
	case "user":
		if len(stmts) != 2 {
			return false
		}
		u, ok1 := stmts[0].(certificate.UserCreated)
		d, ok2 := stmts[1].(certificate.DeviceAdded)
		return ok1 && ok2 && invitedEmail(before.ID, u, opening) == inv.Email && u.Profile.String() == inv.Profile && d.UserID == u.UserID
	case "device":
		if len(stmts) != 1 {
			return false
		}
		d, ok := stmts[0].(certificate.DeviceAdded)
		return ok && d.UserID == inv.UserID
	}
	return false
}

func canGreet(c *caller, inv store.Invitation) bool {
	switch inv.Kind {
	case "user":
		return c.isAdmin()
	case "device":
		return c.user.ID == inv.UserID
	case "recovery":
		// Only the member who offers their share relays it (SPEC.md §15.6).
		return c.device.ID == inv.CreatedBy
	}
	return false
}

// CreateInvitation records an invitation by the hash of its token: the
// token itself travels only in the link (SECURITY.md A19).
func (s *Server) CreateInvitation(ctx context.Context, req *coffrev1.CreateInvitationRequest) (*coffrev1.CreateInvitationResponse, error) {
	c := callerFrom(ctx)
	now := s.cfg.Now()
	expires := time.UnixMilli(req.GetExpiresMs())
	if len(req.GetTokenHash()) != sha256.Size || !expires.After(now) || expires.After(now.Add(maxInvitationLife)) {
		return nil, errBadRequest
	}
	inv := store.Invitation{
		ID: certificate.NewID(), OrgID: c.orgID, TokenHash: req.GetTokenHash(),
		CreatedBy: c.device.ID, CreatedAt: now, ExpiresAt: expires, State: store.InvitationPending,
	}
	switch req.GetKind() {
	case coffrev1.InvitationKind_INVITATION_KIND_USER:
		p := certificate.Profile(req.GetProfile())
		if !c.isAdmin() {
			return nil, errForbidden
		}
		if req.GetEmail() == "" || p.String() != profileName(p) {
			return nil, errBadRequest
		}
		inv.Kind, inv.Email, inv.Profile = "user", req.GetEmail(), p.String()
	case coffrev1.InvitationKind_INVITATION_KIND_DEVICE:
		inv.Kind, inv.UserID, inv.Email = "device", c.user.ID, c.user.Email
	case coffrev1.InvitationKind_INVITATION_KIND_RECOVERY:
		// Any active member may offer to help someone recover: whether
		// they hold a share is their client's to check, and the person
		// recovering checks every share (SPEC.md §15.6). Nothing is
		// appended with a recovery invitation.
		if req.GetEmail() == "" {
			return nil, errBadRequest
		}
		inv.Kind, inv.Email = "recovery", req.GetEmail()
	default:
		return nil, errBadRequest
	}
	if err := s.cfg.Store.CreateInvitation(ctx, inv); err != nil {
		return nil, err
	}
	s.bus.Publish(c.orgID, invitationEvent(inv.ID, inv.State))
	return &coffrev1.CreateInvitationResponse{InvitationId: inv.ID}, nil
}

func profileName(p certificate.Profile) string {
	switch p {
	case certificate.ProfileAdmin, certificate.ProfileStandard, certificate.ProfileOutsider:
		return p.String()
	}
	return "invalid"
}

// ListInvitations lists what the caller may greet: every user invitation
// for an admin, and the caller's own device invitations.
func (s *Server) ListInvitations(ctx context.Context, _ *coffrev1.ListInvitationsRequest) (*coffrev1.ListInvitationsResponse, error) {
	c := callerFrom(ctx)
	invs, err := s.cfg.Store.Invitations(ctx, c.orgID)
	if err != nil {
		return nil, err
	}
	resp := &coffrev1.ListInvitationsResponse{}
	now := s.cfg.Now()
	for _, inv := range invs {
		if canGreet(c, inv) {
			resp.Invitations = append(resp.Invitations, invitationToWire(inv, now))
		}
	}
	return resp, nil
}

// CancelInvitation cancels a pending invitation.
func (s *Server) CancelInvitation(ctx context.Context, req *coffrev1.CancelInvitationRequest) (*coffrev1.CancelInvitationResponse, error) {
	c := callerFrom(ctx)
	_, err := s.cfg.Store.UpdateInvitation(ctx, c.orgID, req.GetInvitationId(), func(inv *store.Invitation) error {
		if !canGreet(c, *inv) {
			return errForbidden
		}
		if inv.State != store.InvitationPending {
			return errInvitationUnusable
		}
		inv.State = store.InvitationCancelled
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.bus.Publish(c.orgID, invitationEvent(req.GetInvitationId(), store.InvitationCancelled))
	return &coffrev1.CancelInvitationResponse{}, nil
}

// usableInvitation finds the pending, unexpired invitation of a token.
// Unknown, expired, spent, cancelled and burned all give the one same
// error, so the answer says nothing about other tokens.
func (s *Server) usableInvitation(ctx context.Context, orgID string, token []byte, allowSpent bool) (store.Invitation, error) {
	if len(token) < 16 {
		return store.Invitation{}, errInvitationUnusable
	}
	hash := sha256.Sum256(token)
	inv, err := s.cfg.Store.InvitationByToken(ctx, orgID, hash[:])
	if err != nil || !s.relayable(inv, allowSpent) {
		return store.Invitation{}, errInvitationUnusable
	}
	return inv, nil
}

// relayable reports whether an invitation may still carry enrolment
// messages. Once spent, only the messages that finish the attempt that
// spent it may pass: the greeter's confirmation, and the claimer waiting
// for it.
func (s *Server) relayable(inv store.Invitation, allowSpent bool) bool {
	ok := inv.State == store.InvitationPending || (allowSpent && inv.State == store.InvitationSpent)
	return ok && s.cfg.Now().Before(inv.ExpiresAt)
}

// ClaimInvitation tells the claimer what its invitation is for.
func (s *Server) ClaimInvitation(ctx context.Context, req *coffrev1.ClaimInvitationRequest) (*coffrev1.ClaimInvitationResponse, error) {
	inv, err := s.usableInvitation(ctx, req.GetOrganisationId(), req.GetToken(), false)
	if err != nil {
		return nil, err
	}
	org, err := s.cfg.Store.Organisation(ctx, req.GetOrganisationId())
	if err != nil {
		return nil, err
	}
	w := invitationToWire(inv, s.cfg.Now())
	w.CreatedBy = "" // the claimer doesn't need to know which device
	return &coffrev1.ClaimInvitationResponse{Invitation: w, OrganisationName: org.Name}, nil
}

// relayInvitation resolves who is speaking in a relay call: the greeter,
// authenticated as a device that may greet the named invitation, or the
// claimer, holding the invitation's token.
func (s *Server) relayInvitation(ctx context.Context, orgID, invID string, token []byte, side coffrev1.RelaySide, allowSpent bool) (store.Invitation, error) {
	if c := callerFrom(ctx); c != nil {
		if side != coffrev1.RelaySide_RELAY_SIDE_GREETER {
			return store.Invitation{}, errForbidden
		}
		inv, err := s.cfg.Store.Invitation(ctx, c.orgID, invID)
		if err != nil || !canGreet(c, inv) {
			return store.Invitation{}, errInvitationUnusable
		}
		if !s.relayable(inv, allowSpent) {
			return store.Invitation{}, errInvitationUnusable
		}
		return inv, nil
	}
	if side != coffrev1.RelaySide_RELAY_SIDE_CLAIMER {
		return store.Invitation{}, errUnauthenticated
	}
	return s.usableInvitation(ctx, orgID, token, allowSpent)
}

// RelayPost posts one enrolment message; the claimer's first message starts
// a new attempt. An abort burns the attempt, and enough of them burn the
// invitation (SPEC.md §5).
func (s *Server) RelayPost(ctx context.Context, req *coffrev1.RelayPostRequest) (*coffrev1.RelayPostResponse, error) {
	greeter := req.GetSide() == coffrev1.RelaySide_RELAY_SIDE_GREETER
	inv, err := s.relayInvitation(ctx, req.GetOrganisationId(), req.GetInvitationId(), req.GetToken(), req.GetSide(), greeter && !req.GetAbort())
	if err != nil {
		return nil, err
	}
	box := inv.OrgID + "/" + inv.ID
	if req.GetAbort() {
		live, err := s.relay.Abort(ctx, box, req.GetAttempt())
		if err != nil {
			return nil, err
		}
		if live {
			updated, err := s.cfg.Store.UpdateInvitation(ctx, inv.OrgID, inv.ID, func(i *store.Invitation) error {
				i.Attempts++
				if i.Attempts >= s.cfg.MaxEnrolmentAttempts && i.State == store.InvitationPending {
					i.State = store.InvitationBurned
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			s.log.Info("enrolment attempt aborted", "organisation", inv.OrgID, "invitation", inv.ID, "attempts", updated.Attempts)
			s.bus.Publish(inv.OrgID, invitationEvent(inv.ID, updated.State))
		}
		return &coffrev1.RelayPostResponse{Attempt: req.GetAttempt()}, nil
	}
	if len(req.GetPayload()) > 64<<10 || req.GetStep() == 0 {
		return nil, errBadRequest
	}
	attempt := req.GetAttempt()
	if req.GetSide() == coffrev1.RelaySide_RELAY_SIDE_CLAIMER && req.GetStep() == 1 && attempt == 0 {
		if attempt, err = s.relay.Start(ctx, box); err != nil {
			return nil, err
		}
	}
	if err := s.relay.Post(ctx, box, attempt, uint32(req.GetSide()), req.GetStep(), req.GetPayload()); err != nil {
		return nil, err
	}
	return &coffrev1.RelayPostResponse{Attempt: attempt}, nil
}

// RelayWait waits for the other side's message of one step.
func (s *Server) RelayWait(ctx context.Context, req *coffrev1.RelayWaitRequest) (*coffrev1.RelayWaitResponse, error) {
	inv, err := s.relayInvitation(ctx, req.GetOrganisationId(), req.GetInvitationId(), req.GetToken(), otherSide(req.GetSide()), true)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, relayWaitTimeout)
	defer cancel()
	attempt, payload, err := s.relay.Wait(wctx, inv.OrgID+"/"+inv.ID, req.GetAttempt(), uint32(req.GetSide()), req.GetStep())
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return &coffrev1.RelayWaitResponse{Found: false, Attempt: attempt}, nil
	}
	if err != nil {
		return nil, err
	}
	return &coffrev1.RelayWaitResponse{Found: true, Attempt: attempt, Payload: payload}, nil
}

func otherSide(s coffrev1.RelaySide) coffrev1.RelaySide {
	switch s {
	case coffrev1.RelaySide_RELAY_SIDE_GREETER:
		return coffrev1.RelaySide_RELAY_SIDE_CLAIMER
	case coffrev1.RelaySide_RELAY_SIDE_CLAIMER:
		return coffrev1.RelaySide_RELAY_SIDE_GREETER
	}
	return coffrev1.RelaySide_RELAY_SIDE_UNSPECIFIED
}

// Watch streams the organisation's events to a device until it
// disconnects or is revoked.
func (s *Server) Watch(_ *coffrev1.WatchRequest, stream coffrev1.CoffreService_WatchServer) error {
	ctx := stream.Context()
	c := callerFrom(ctx)
	events, unsubscribe := s.bus.Subscribe(c.orgID)
	defer unsubscribe()
	head, err := s.cfg.Store.LogHead(ctx, c.orgID)
	if err != nil {
		return s.toStatus(ctx, "Watch", err)
	}
	if err := stream.Send(eventToWire(store.Event{Kind: store.LogAppended, Position: head.Position})); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			switch ev.Kind {
			case store.LogAppended:
				// A revocation ends the revoked devices' streams at once.
				org, err := s.state(ctx, c.orgID)
				if err != nil {
					return s.toStatus(ctx, "Watch", err)
				}
				if u, _ := org.User(c.user.ID); u.Revoked() || isRevokedDevice(org, c.device.ID) {
					return s.toStatus(ctx, "Watch", errDeviceRevoked)
				}
				c.org = org
			case store.VaultAppended:
				// Only a vault's members hear of its activity.
				v, ok := c.org.Vault(ev.Vault)
				if !ok || c.org.RoleOf(v, c.user.ID, s.cfg.Now()) == certificate.RoleNone {
					continue
				}
			case store.EmergencyAppended:
				if !s.hearsEmergency(c, ev) {
					continue
				}
			}
			w := eventToWire(ev)
			if w == nil {
				continue
			}
			if err := stream.Send(w); err != nil {
				return err
			}
		}
	}
}

// ListConnections lists a device's connections: one of the caller's user's
// devices (SPEC.md §15), or anyone's for an admin (an empty device id means every device).
func (s *Server) ListConnections(ctx context.Context, req *coffrev1.ListConnectionsRequest) (*coffrev1.ListConnectionsResponse, error) {
	c := callerFrom(ctx)
	dev := req.GetDeviceId()
	if d, ok := c.org.Device(dev); (!ok || d.UserID != c.user.ID) && !c.isAdmin() {
		return nil, errForbidden
	}
	limit := int(req.GetLimit())
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	conns, err := s.cfg.Store.Connections(ctx, c.orgID, dev, limit)
	if err != nil {
		return nil, err
	}
	resp := &coffrev1.ListConnectionsResponse{}
	for _, cn := range conns {
		resp.Connections = append(resp.Connections, connectionToWire(cn))
	}
	return resp, nil
}

func (s *Server) publishHead(orgID string, pos uint64) {
	s.bus.Publish(orgID, store.Event{Kind: store.LogAppended, Position: pos})
}

func invitationEvent(id string, state store.InvitationState) store.Event {
	return store.Event{Kind: store.InvitationChanged, Invitation: id, State: state}
}

// eventToWire is the one place where a store event becomes what a Watch
// stream carries; nil for a kind it does not know.
func eventToWire(ev store.Event) *coffrev1.WatchResponse {
	switch ev.Kind {
	case store.LogAppended:
		return &coffrev1.WatchResponse{Event: &coffrev1.WatchResponse_LogAppended{
			LogAppended: &coffrev1.LogAppended{HeadPosition: ev.Position}}}
	case store.VaultAppended:
		return &coffrev1.WatchResponse{Event: &coffrev1.WatchResponse_VaultAppended{
			VaultAppended: &coffrev1.VaultAppended{VaultId: ev.Vault, HeadPosition: ev.Position}}}
	case store.InvitationChanged:
		return &coffrev1.WatchResponse{Event: &coffrev1.WatchResponse_InvitationChanged{
			InvitationChanged: &coffrev1.InvitationChanged{InvitationId: ev.Invitation, State: string(ev.State)}}}
	case store.EmergencyAppended:
		return &coffrev1.WatchResponse{Event: &coffrev1.WatchResponse_EmergencyAppended{
			EmergencyAppended: &coffrev1.EmergencyAppended{VaultId: ev.Vault, Position: ev.Position}}}
	}
	return nil
}

func connectionToWire(c store.Connection) *coffrev1.Connection {
	return &coffrev1.Connection{DeviceId: c.DeviceID, TimeMs: c.Time.UnixMilli(), Address: c.Address}
}

func invitationToWire(inv store.Invitation, now time.Time) *coffrev1.Invitation {
	state := string(inv.State)
	if inv.State == store.InvitationPending && !now.Before(inv.ExpiresAt) {
		state = "expired"
	}
	kind := coffrev1.InvitationKind_INVITATION_KIND_USER
	switch inv.Kind {
	case "device":
		kind = coffrev1.InvitationKind_INVITATION_KIND_DEVICE
	case "recovery":
		kind = coffrev1.InvitationKind_INVITATION_KIND_RECOVERY
	}
	p, _ := certificate.ParseProfile(inv.Profile)
	return &coffrev1.Invitation{
		Id: inv.ID, Kind: kind, Email: inv.Email, Profile: coffrev1.Profile(p),
		CreatedBy: inv.CreatedBy, CreatedMs: inv.CreatedAt.UnixMilli(), ExpiresMs: inv.ExpiresAt.UnixMilli(),
		State: state, Attempts: uint32(inv.Attempts), UserId: inv.UserID,
	}
}

// checkUserLimit refuses certificates that would take the organisation
// over the operator's limit of active users.
func (s *Server) checkUserLimit(ctx context.Context, orgID string, before, after *certificate.Organisation) error {
	active := func(o *certificate.Organisation) (n int) {
		for _, u := range o.Users() {
			if !u.Revoked() {
				n++
			}
		}
		return n
	}
	grown := active(after) > active(before)
	if !grown {
		return nil
	}
	rec, err := s.cfg.Store.Organisation(ctx, orgID)
	if err != nil {
		return err
	}
	if rec.Limits.Users > 0 && active(after) > rec.Limits.Users {
		return wire.ErrUserLimit
	}
	return nil
}
