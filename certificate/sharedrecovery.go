package certificate

import (
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Shared recovery (SPEC.md §15.6): a user publishes a recovery device whose
// key file is encrypted under a secret split among chosen members, each
// share sealed to one member. The log keeps each user's newest one.

// Bounds on a shared recovery, which every member fetches with the log.
const (
	MaxRecoveryMembers   = 32
	MaxRecoveryFileBytes = 16 << 10
)

// SharedRecoverySet publishes a user's shared recovery, replacing the
// previous one.
type SharedRecoverySet struct {
	UserID           string
	RecoveryDeviceID string
	Threshold        int
	Shares           []RecoveryShare
	RecoveryFile     []byte
}

// RecoveryShare is one member's sealed share and its commitment.
type RecoveryShare struct {
	MemberID   string
	Sealed     []byte
	Commitment []byte
}

func (SharedRecoverySet) isStatement() {}

// SharedRecovery is a user's current shared recovery, as the verified log
// describes it.
type SharedRecovery struct {
	SharedRecoverySet
	Position uint64
	Time     time.Time
	Author   string // device id
}

// Share returns the member's share, if the recovery names them.
func (r *SharedRecovery) Share(memberID string) (RecoveryShare, bool) {
	for _, s := range r.Shares {
		if s.MemberID == memberID {
			return s, true
		}
	}
	return RecoveryShare{}, false
}

// SharedRecovery returns the user's current shared recovery.
func (o *Organisation) SharedRecovery(userID string) (*SharedRecovery, bool) {
	r, ok := o.sharedRecoveries[userID]
	return r, ok
}

// checkSharedRecovery applies the rules of SPEC.md §15.6: the user's own
// active device signs it, for an active recovery device of that user, with
// 1 ≤ threshold ≤ members, members active, distinct and not the user.
func (o *Organisation) checkSharedRecovery(c *Certificate, s SharedRecoverySet, author *User) error {
	p := c.Position
	if p <= 2 || author == nil {
		return o.broke(p, "shared recovery at a bootstrap position")
	}
	if s.UserID != author.ID {
		return o.broke(p, "only user %q's own devices may publish their shared recovery", s.UserID)
	}
	d, ok := o.devices[s.RecoveryDeviceID]
	switch {
	case !ok || d.UserID != s.UserID || d.Revoked():
		return o.broke(p, "recovery device %q unknown, revoked or of another user", s.RecoveryDeviceID)
	case s.RecoveryDeviceID == c.Author:
		return o.broke(p, "a recovery device does not publish its own shared recovery")
	case len(s.Shares) == 0 || len(s.Shares) > MaxRecoveryMembers:
		return o.broke(p, "a shared recovery needs 1 to %d members", MaxRecoveryMembers)
	case s.Threshold < 1 || s.Threshold > len(s.Shares):
		return o.broke(p, "a threshold of %d for %d members (want 1 to %d)", s.Threshold, len(s.Shares), len(s.Shares))
	case len(s.RecoveryFile) == 0 || len(s.RecoveryFile) > MaxRecoveryFileBytes:
		return o.broke(p, "a recovery file of %d bytes (want 1 to %d)", len(s.RecoveryFile), MaxRecoveryFileBytes)
	}
	seen := map[string]bool{}
	for _, sh := range s.Shares {
		u, ok := o.users[sh.MemberID]
		switch {
		case !ok || u.Revoked() || seen[sh.MemberID]:
			return o.broke(p, "recovery member %q unknown, revoked or listed twice", sh.MemberID)
		case sh.MemberID == s.UserID:
			return o.broke(p, "a user is not a member of their own recovery")
		case len(sh.Sealed) == 0 || len(sh.Commitment) != 32:
			return o.broke(p, "recovery share of %q without a sealed share or a 32-byte commitment", sh.MemberID)
		}
		seen[sh.MemberID] = true
	}
	return nil
}

func (o *Organisation) foldSharedRecovery(c *Certificate, s SharedRecoverySet) {
	s.Shares = append([]RecoveryShare(nil), s.Shares...)
	o.sharedRecoveries[s.UserID] = &SharedRecovery{SharedRecoverySet: s, Position: c.Position, Time: c.Time, Author: c.Author}
}

// Wire conversion.

func sharedRecoveryFromWire(b *coffrev1.Certificate) (Statement, bool) {
	s, ok := b.GetStatement().(*coffrev1.Certificate_SharedRecovery)
	if !ok {
		return nil, false
	}
	r := s.SharedRecovery
	st := SharedRecoverySet{UserID: r.GetUserId(), RecoveryDeviceID: r.GetRecoveryDeviceId(),
		Threshold: int(r.GetThreshold()), RecoveryFile: r.GetRecoveryFile()}
	for _, sh := range r.GetShares() {
		st.Shares = append(st.Shares, RecoveryShare{MemberID: sh.GetMemberUserId(), Sealed: sh.GetSealedShare(), Commitment: sh.GetCommitment()})
	}
	return st, true
}

func sharedRecoveryToWire(s Statement, b *coffrev1.Certificate) bool {
	st, ok := s.(SharedRecoverySet)
	if !ok {
		return false
	}
	r := &coffrev1.SharedRecoveryStatement{UserId: st.UserID, RecoveryDeviceId: st.RecoveryDeviceID,
		Threshold: uint32(st.Threshold), RecoveryFile: st.RecoveryFile}
	for _, sh := range st.Shares {
		r.Shares = append(r.Shares, &coffrev1.SealedRecoveryShare{MemberUserId: sh.MemberID, SealedShare: sh.Sealed, Commitment: sh.Commitment})
	}
	b.Statement = &coffrev1.Certificate_SharedRecovery{SharedRecovery: r}
	return true
}

// Snapshot encoding (snapshot.go).

func (w *snapWriter) sharedRecovery(r *SharedRecovery) {
	w.str(r.UserID, r.RecoveryDeviceID)
	w.u(uint64(r.Threshold))
	w.u(uint64(len(r.Shares)))
	for _, sh := range r.Shares {
		w.str(sh.MemberID)
		w.bytes(sh.Sealed, sh.Commitment)
	}
	w.bytes(r.RecoveryFile)
	w.u(r.Position)
	w.time(r.Time)
	w.str(r.Author)
}

func (r *snapReader) sharedRecovery() *SharedRecovery {
	sr := &SharedRecovery{}
	sr.UserID, sr.RecoveryDeviceID, sr.Threshold = r.str(), r.str(), int(r.u())
	for range r.count(3) {
		sr.Shares = append(sr.Shares, RecoveryShare{MemberID: r.str(), Sealed: r.bytes(), Commitment: r.bytes()})
	}
	sr.RecoveryFile = r.bytes()
	sr.Position, sr.Time, sr.Author = r.u(), r.time(), r.str()
	return sr
}
