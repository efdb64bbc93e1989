package server

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/wire"
)

// caller is the authenticated device of a call.
type caller struct {
	orgID  string
	device *certificate.Device
	user   *certificate.User
	org    *certificate.Organisation // state as of the call
	// revokedAt is set for a revoked device, which may only read the log
	// up to that position (capRevoked).
	revokedAt uint64
}

func (c *caller) isAdmin() bool { return c.user.Profile == certificate.ProfileAdmin }

type callerKey struct{}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// tokenMethods are the calls made before a device exists: they carry a
// bootstrap or invitation token instead of a device signature, and are rate
// limited per address (SPEC.md §6.1). The relay calls take either: the
// claimer's token or the greeter's device signature.
var tokenMethods = map[string]bool{
	coffrev1.CoffreService_GetOrganisation_FullMethodName: true,
	coffrev1.CoffreService_Bootstrap_FullMethodName:       true,
	coffrev1.CoffreService_ClaimInvitation_FullMethodName: true,
	coffrev1.CoffreService_RelayPost_FullMethodName:       true,
	coffrev1.CoffreService_RelayWait_FullMethodName:       true,
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	msg, ok := req.(proto.Message)
	if !ok {
		return nil, wire.Status(wire.ErrBadRequest)
	}
	if isHealthMethod(info.FullMethod) {
		return handler(ctx, req)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if tokenMethods[info.FullMethod] && !wire.HasRequestSignature(md) {
		if !s.limiter.allow(peerHost(ctx)) {
			return nil, wire.Status(wire.ErrRateLimited)
		}
		resp, err := handler(ctx, req)
		return resp, s.toStatus(ctx, info.FullMethod, err)
	}
	c, err := s.authenticate(ctx, info.FullMethod, msg)
	if err != nil {
		return nil, s.toStatus(ctx, info.FullMethod, err)
	}
	resp, err := handler(context.WithValue(ctx, callerKey{}, c), req)
	capRevoked(c, resp)
	return resp, s.toStatus(ctx, info.FullMethod, err)
}

// streamAuth authenticates a server-streaming call on its one request
// message, before the handler sees it.
func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if isHealthMethod(info.FullMethod) {
		return handler(srv, ss)
	}
	return handler(srv, &authStream{ServerStream: ss, s: s, method: info.FullMethod})
}

type authStream struct {
	grpc.ServerStream
	s      *Server
	method string
	ctx    context.Context
}

func (a *authStream) Context() context.Context {
	if a.ctx != nil {
		return a.ctx
	}
	return a.ServerStream.Context()
}

func (a *authStream) RecvMsg(m any) error {
	if err := a.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if a.ctx != nil {
		return nil
	}
	c, err := a.s.authenticate(a.ServerStream.Context(), a.method, m.(proto.Message))
	if err != nil {
		return a.s.toStatus(a.ServerStream.Context(), a.method, err)
	}
	a.ctx = context.WithValue(a.ServerStream.Context(), callerKey{}, c)
	return nil
}

// authenticate checks a device call (SPEC.md §6.1): the device is in the
// organisation's verified log, neither it (§15) nor its user is revoked, the time is
// within MaxSkew and after this process started, the nonce is fresh, and
// the signature covers method, organisation, device, time, nonce and request.
func (s *Server) authenticate(ctx context.Context, method string, req proto.Message) (*caller, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	rs, err := wire.ParseRequestSignature(md)
	if err != nil {
		return nil, errUnauthenticated
	}
	orgID, deviceID, nonce := rs.Organisation, rs.Device, rs.Nonce
	at, now := rs.Time, s.cfg.Now()
	if at.Before(now.Add(-wire.MaxSkew)) || at.After(now.Add(wire.MaxSkew)) || at.Before(s.started.Add(-time.Second)) {
		return nil, errUnauthenticated
	}
	org, nonceKept, err := s.stateToAuthenticate(ctx, rs, method, req, now)
	if err != nil {
		if err == errOrganisationUnknown {
			return nil, errUnauthenticated
		}
		return nil, err
	}
	device, ok := org.Device(deviceID)
	if !ok {
		return nil, errUnauthenticated
	}
	if !nonceKept && rs.Verify(device.VerifyKey, method, req) != nil {
		return nil, errUnauthenticated
	}
	user, _ := org.User(device.UserID)
	var revokedAt uint64
	if user.Revoked() || device.Revoked() {
		// A revoked device may still read the log up to its revocation:
		// it wipes itself only on the certificate, never on our word
		// (SPEC.md §15); nothing after it is shown.
		if method != coffrev1.CoffreService_GetLog_FullMethodName {
			return nil, errDeviceRevoked
		}
		revokedAt = device.RevokedAt
		if user.Revoked() && (revokedAt == 0 || user.RevokedAt < revokedAt) {
			revokedAt = user.RevokedAt
		}
	}
	if nonceKept {
		return &caller{orgID: orgID, device: device, user: user, org: org, revokedAt: revokedAt}, nil
	}
	if !s.nonces.fresh(deviceID, nonce, at, now) {
		return nil, errUnauthenticated // a replay
	}
	if s.cfg.Nonces != nil {
		fresh, err := s.cfg.Nonces.Fresh(ctx, deviceID, nonce, at)
		if err != nil {
			return nil, err // refused: a replay can't be ruled out
		}
		if !fresh {
			return nil, errUnauthenticated // a replay to another process
		}
	}
	return &caller{orgID: orgID, device: device, user: user, org: org, revokedAt: revokedAt}, nil
}

// stateToAuthenticate returns the organisation's state, caught up with
// the store, for authenticate. With a store.LogNonces, a device already in
// the server's snapshot has its signature verified against that snapshot
// (a device's key never changes), then its nonce recorded and the log read
// beyond the snapshot in one round trip, where they were two: kept then
// says that the signature verified and the nonce was fresh in both
// caches. authenticate still checks the device and its user against the
// caught-up state, so a revocation appended by another process since the
// snapshot refuses the call (SPEC.md §6.1). A replay is
// errUnauthenticated; a device not in the snapshot, or a bad signature,
// goes the usual way (kept false).
func (s *Server) stateToAuthenticate(ctx context.Context, rs wire.RequestSignature, method string, req proto.Message, now time.Time) (org *certificate.Organisation, kept bool, err error) {
	ln, ok := s.cfg.Nonces.(store.LogNonces)
	if !ok {
		org, err = s.state(ctx, rs.Organisation)
		return org, false, err
	}
	st, err := s.orgState(ctx, rs.Organisation)
	if err != nil {
		return nil, false, err
	}
	org = st.org.Load()
	device, ok := org.Device(rs.Device)
	if !ok || rs.Verify(device.VerifyKey, method, req) != nil {
		org, err = s.state(ctx, rs.Organisation)
		return org, false, err
	}
	if !s.nonces.fresh(rs.Device, rs.Nonce, rs.Time, now) {
		return nil, false, errUnauthenticated // a replay
	}
	fresh, entries, err := ln.FreshReadLog(ctx, rs.Device, rs.Nonce, rs.Time, rs.Organisation, org.Head.Position+1, 1000)
	switch {
	case err != nil:
		return nil, false, err // refused: a replay can't be ruled out
	case !fresh:
		return nil, false, errUnauthenticated // a replay to another process
	}
	org, err = s.advance(ctx, rs.Organisation, st, org, entries)
	return org, err == nil, err
}

// capRevoked cuts a revoked device's GetLog answer at its revocation.
func capRevoked(c *caller, resp any) {
	r, ok := resp.(*coffrev1.GetLogResponse)
	if !ok || c == nil || c.revokedAt == 0 {
		return
	}
	var kept []*coffrev1.LogEntry
	for _, e := range r.GetEntries() {
		if e.GetPosition() <= c.revokedAt {
			kept = append(kept, e)
		}
	}
	r.Entries = kept
	r.HeadPosition = min(r.GetHeadPosition(), c.revokedAt)
}

func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok {
		return p.Addr.String()
	}
	return ""
}

// nonceCache remembers the nonces of the last 2×MaxSkew, so that a request
// replayed inside the time window is refused.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newNonceCache() *nonceCache { return &nonceCache{seen: map[string]time.Time{}} }

func (n *nonceCache) fresh(device string, nonce []byte, at, now time.Time) bool {
	k := device + "\x00" + string(nonce)
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.seen[k]; dup {
		return false
	}
	n.seen[k] = at
	return true
}

func (n *nonceCache) sweep(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, at := range n.seen {
		if now.Sub(at) > 2*wire.MaxSkew {
			delete(n.seen, k)
		}
	}
}

// limiter is a token bucket per client address for unauthenticated calls:
// a flood of enrolment attempts can't starve members.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, buckets: map[string]*bucket{}}
}

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (l *limiter) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.buckets {
		if time.Since(b.last) > time.Minute {
			delete(l.buckets, k)
		}
	}
}

func parseVerifyKey(b []byte) (crypto.VerifyKey, error) { return crypto.ParseVerifyKey(b) }

// isRevokedDevice reports whether the device was revoked (SPEC.md §15.2):
// its open Watch streams end like a revoked user's.
func isRevokedDevice(org *certificate.Organisation, id string) bool {
	d, ok := org.Device(id)
	return ok && d.Revoked()
}
