package certificate

import (
	"strings"
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Emergency access and orphan vaults (SPEC.md §16): an owner's policy of
// who may invoke emergency access to a vault, the signed invocation that
// makes the invoker a reader until a fixed end, the approval it may need,
// the release of the vault key to a user whose grant came without one, and
// an admin's takeover of a vault that has no owner left.

// Policy durations (SPEC.md §16.3). The CLI's default is
// DefaultEmergencyDuration.
const (
	MinEmergencyDuration     = time.Second
	MaxEmergencyDuration     = 7 * 24 * time.Hour
	DefaultEmergencyDuration = 4 * time.Hour
	// MaxReasonBytes bounds a signed reason, which every member fetches.
	MaxReasonBytes = 500
)

// Emergency statements.
type (
	// EmergencyPolicy sets (or, with no invoker at all, removes) a vault's
	// emergency policy.
	EmergencyPolicy struct {
		VaultID        string
		Invokers       []string // user ids
		InvokerProfile Profile  // 0: none
		OnCallVaultID  string   // "": none
		Duration       time.Duration
		Approver       string // user id; "": no approval needed
	}
	// EmergencyInvoked invokes the policy: the author's user reads the
	// vault until Until, once approved if the policy names an approver.
	EmergencyInvoked struct {
		VaultID string
		Reason  string
		Until   time.Time
	}
	// EmergencyApproved approves the invocation at a log position.
	EmergencyApproved struct {
		VaultID            string
		InvocationPosition uint64
	}
	// VaultKeyReleased seals the newest key to a user whose grant came
	// without one.
	VaultKeyReleased struct {
		VaultID  string
		Key      SealedKey
		KeyIndex uint32
	}
	// VaultOwnershipTaken makes the author, an admin, an owner of a vault
	// that has no active owner.
	VaultOwnershipTaken struct {
		VaultID string
		Reason  string
	}
)

func (EmergencyPolicy) isStatement()     {}
func (EmergencyInvoked) isStatement()    {}
func (EmergencyApproved) isStatement()   {}
func (VaultKeyReleased) isStatement()    {}
func (VaultOwnershipTaken) isStatement() {}

// removal reports whether the policy names no invoker: it removes the
// vault's policy.
func (p EmergencyPolicy) removal() bool {
	return len(p.Invokers) == 0 && p.InvokerProfile == 0 && p.OnCallVaultID == ""
}

// Emergency is one invocation of a vault's emergency policy, as the
// verified log describes it.
type Emergency struct {
	VaultID  string
	Position uint64 // of the invocation
	UserID   string // the invoker
	Reason   string
	Start    time.Time // the invocation's time
	Until    time.Time
	// NeedsApproval: the policy named an approver when it was invoked.
	NeedsApproval bool
	Approved      bool
	ApprovedBy    string // user id
	ApprovedAt    time.Time
	Released      bool
	ReleasedBy    string // user id
	ReleasedAt    time.Time
}

// Running reports whether the invocation gives its invoker a role at t.
func (e Emergency) Running(t time.Time) bool {
	return (!e.NeedsApproval || e.Approved) && t.Before(e.Until)
}

// pending reports whether the invocation waits for its approval at t.
func (e Emergency) pending(t time.Time) bool {
	return e.NeedsApproval && !e.Approved && t.Before(e.Until)
}

// Takeover is an admin's takeover of a vault with no owner left.
type Takeover struct {
	Position uint64
	UserID   string
	Reason   string
	Time     time.Time
}

// Emergencies returns the vault's invocations, oldest first.
func (v *Vault) Emergencies() []Emergency { return append([]Emergency(nil), v.emergencies...) }

// Takeovers returns the vault's ownership takeovers, oldest first.
func (v *Vault) Takeovers() []Takeover { return append([]Takeover(nil), v.takeovers...) }

// Keyless reports whether the user's current grant came without a key (an
// invocation, a takeover) and no key was released to them since: a member
// who may write releases it (SPEC.md §16.3).
func (v *Vault) Keyless(userID string) bool {
	g, ok := v.grants[userID]
	return ok && g.Keyless && !v.holders[userID]
}

// MayInvoke reports whether the vault's policy lets the user invoke it at
// t: listed, of the policy's profile, or an active member of its on-call
// vault.
func (o *Organisation) MayInvoke(v *Vault, userID string, t time.Time) bool {
	p := v.Policy
	u, ok := o.users[userID]
	if p == nil || !ok || u.Revoked() {
		return false
	}
	for _, id := range p.Invokers {
		if id == userID {
			return true
		}
	}
	if p.InvokerProfile != 0 && u.Profile == p.InvokerProfile {
		return true
	}
	if oc, ok := o.vaults[p.OnCallVaultID]; ok && o.RoleOf(oc, userID, t) != RoleNone {
		return true
	}
	return false
}

func validReason(r string) bool {
	return strings.TrimSpace(r) != "" && len(r) <= MaxReasonBytes
}

// checkEmergency applies the rules of SPEC.md §16.3 with the roles in
// force at time at.
func (o *Organisation) checkEmergency(c *Certificate, author *User, at time.Time) error {
	p := c.Position
	switch s := c.Statement.(type) {
	case EmergencyPolicy:
		v, err := o.activeVault(p, s.VaultID)
		if err != nil {
			return err
		}
		if o.RoleOf(v, author.ID, at) != RoleOwner {
			return o.broke(p, "only an owner may set the emergency policy of vault %q", v.ID)
		}
		if s.removal() {
			if s.Duration != 0 || s.Approver != "" {
				return o.broke(p, "an emergency policy removal with a duration or an approver")
			}
			return nil
		}
		if s.Duration < MinEmergencyDuration || s.Duration > MaxEmergencyDuration {
			return o.broke(p, "an emergency duration of %s (want %s to %s)", s.Duration, MinEmergencyDuration, MaxEmergencyDuration)
		}
		seen := map[string]bool{}
		for _, id := range s.Invokers {
			if u, ok := o.users[id]; !ok || u.Revoked() || seen[id] {
				return o.broke(p, "emergency invoker %q unknown, revoked or listed twice", id)
			}
			seen[id] = true
		}
		if s.InvokerProfile != 0 && !s.InvokerProfile.valid() {
			return o.broke(p, "unknown profile %d", int(s.InvokerProfile))
		}
		if oc, ok := o.vaults[s.OnCallVaultID]; s.OnCallVaultID != "" && (!ok || oc.ID == v.ID) {
			return o.broke(p, "on-call vault %q unknown or the vault itself", s.OnCallVaultID)
		}
		if u, ok := o.users[s.Approver]; s.Approver != "" && (!ok || u.Revoked()) {
			return o.broke(p, "emergency approver %q unknown or revoked", s.Approver)
		}
	case EmergencyInvoked:
		v, err := o.activeVault(p, s.VaultID)
		if err != nil {
			return err
		}
		switch {
		case v.Policy == nil:
			return o.broke(p, "vault %q has no emergency policy", v.ID)
		case !o.MayInvoke(v, author.ID, at):
			return o.broke(p, "user %q may not invoke the emergency policy of vault %q", author.ID, v.ID)
		case o.RoleOf(v, author.ID, at) != RoleNone:
			return o.broke(p, "user %q already has a role in vault %q (an emergency runs until it ends)", author.ID, v.ID)
		case !validReason(s.Reason):
			return o.broke(p, "an emergency without a reason, or one over %d bytes", MaxReasonBytes)
		case !s.Until.After(c.Time) || !s.Until.After(at):
			return o.broke(p, "an emergency that ends before it starts")
		case s.Until.After(c.Time.Add(v.Policy.Duration)):
			return o.broke(p, "an emergency until %s, past the policy's %s", s.Until.Format(time.RFC3339), v.Policy.Duration)
		}
		for _, e := range v.emergencies {
			if e.UserID == author.ID && e.pending(at) {
				return o.broke(p, "user %q already has an invocation waiting for approval", author.ID)
			}
		}
	case EmergencyApproved:
		v, err := o.activeVault(p, s.VaultID)
		if err != nil {
			return err
		}
		if v.Policy == nil || v.Policy.Approver != author.ID {
			return o.broke(p, "only the emergency policy's approver may approve in vault %q", v.ID)
		}
		e := v.emergency(s.InvocationPosition)
		switch {
		case e == nil:
			return o.broke(p, "no invocation of vault %q at position %d", v.ID, s.InvocationPosition)
		case !e.pending(at):
			return o.broke(p, "the invocation at %d is approved, needs no approval or has ended", s.InvocationPosition)
		case e.UserID == author.ID:
			return o.broke(p, "nobody approves their own invocation")
		}
	case VaultKeyReleased:
		v, err := o.activeVault(p, s.VaultID)
		if err != nil {
			return err
		}
		switch {
		case o.RoleOf(v, author.ID, at) == RoleNone || !v.holders[author.ID]:
			return o.broke(p, "only a member holding the newest key releases the key of vault %q", v.ID)
		case !v.Keyless(s.Key.UserID) || o.RoleOf(v, s.Key.UserID, at) == RoleNone:
			return o.broke(p, "user %q has no running grant that waits for a key", s.Key.UserID)
		case s.KeyIndex != v.KeyIndex() || len(s.Key.Sealed) == 0:
			return o.broke(p, "a released key must be the newest, sealed")
		}
	case VaultOwnershipTaken:
		v, ok := o.vaults[s.VaultID]
		switch {
		case !ok:
			return o.broke(p, "unknown vault %q", s.VaultID)
		case author.Profile != ProfileAdmin:
			return o.broke(p, "only an admin may take ownership of vault %q", v.ID)
		case !validReason(s.Reason):
			return o.broke(p, "a takeover without a reason, or one over %d bytes", MaxReasonBytes)
		}
		for id := range v.grants {
			if o.RoleOf(v, id, at) == RoleOwner {
				return o.broke(p, "vault %q still has an active owner", v.ID)
			}
		}
	}
	return nil
}

func (v *Vault) emergency(position uint64) *Emergency {
	for i := range v.emergencies {
		if v.emergencies[i].Position == position {
			return &v.emergencies[i]
		}
	}
	return nil
}

// grantKeyless gives a user a grant that came without a key.
func (v *Vault) grantKeyless(c *Certificate, g Grant) {
	g.Position, g.Keyless = c.Position, true
	v.grants[g.UserID] = g
	v.history = append(v.history, roleEvent{position: c.Position, time: c.Time, grant: g})
}

func (o *Organisation) foldEmergency(c *Certificate, author *User) {
	switch s := c.Statement.(type) {
	case EmergencyPolicy:
		v := o.vaults[s.VaultID]
		v.Policy = nil
		if !s.removal() {
			p := s
			p.Invokers = append([]string(nil), s.Invokers...)
			v.Policy = &p
		}
	case EmergencyInvoked:
		v := o.vaults[s.VaultID]
		e := Emergency{VaultID: v.ID, Position: c.Position, UserID: author.ID, Reason: s.Reason,
			Start: c.Time, Until: s.Until, NeedsApproval: v.Policy.Approver != ""}
		v.emergencies = append(v.emergencies, e)
		if !e.NeedsApproval {
			v.grantKeyless(c, Grant{UserID: author.ID, Role: RoleReader, Until: s.Until})
		}
	case EmergencyApproved:
		v := o.vaults[s.VaultID]
		e := v.emergency(s.InvocationPosition)
		e.Approved, e.ApprovedBy, e.ApprovedAt = true, author.ID, c.Time
		v.grantKeyless(c, Grant{UserID: e.UserID, Role: RoleReader, Until: e.Until})
	case VaultKeyReleased:
		v := o.vaults[s.VaultID]
		v.holders[s.Key.UserID] = true
		v.history = append(v.history, roleEvent{position: c.Position, time: c.Time, grant: v.grants[s.Key.UserID],
			key: &GrantKey{Index: s.KeyIndex, Sealed: s.Key.Sealed}, released: true})
		for i := range v.emergencies {
			if e := &v.emergencies[i]; e.UserID == s.Key.UserID && e.Running(c.Time) {
				e.Released, e.ReleasedBy, e.ReleasedAt = true, author.ID, c.Time
			}
		}
	case VaultOwnershipTaken:
		v := o.vaults[s.VaultID]
		had := v.holders[author.ID] && o.RoleOf(v, author.ID, c.Time) != RoleNone
		v.grantKeyless(c, Grant{UserID: author.ID, Role: RoleOwner})
		if had {
			g := v.grants[author.ID]
			g.Keyless = false
			v.grants[author.ID] = g
		}
		v.takeovers = append(v.takeovers, Takeover{Position: c.Position, UserID: author.ID, Reason: s.Reason, Time: c.Time})
	}
}

// Wire conversion.

func emergencyFromWire(b *coffrev1.Certificate) (Statement, bool) {
	switch s := b.GetStatement().(type) {
	case *coffrev1.Certificate_EmergencyPolicy:
		p := s.EmergencyPolicy
		return EmergencyPolicy{VaultID: p.GetVaultId(), Invokers: p.GetInvokerUserIds(), InvokerProfile: Profile(p.GetInvokerProfile()),
			OnCallVaultID: p.GetOncallVaultId(), Duration: time.Duration(p.GetDurationMs()) * time.Millisecond, Approver: p.GetApproverUserId()}, true
	case *coffrev1.Certificate_EmergencyInvoked:
		st := EmergencyInvoked{VaultID: s.EmergencyInvoked.GetVaultId(), Reason: s.EmergencyInvoked.GetReason()}
		if ms := s.EmergencyInvoked.GetUntilMs(); ms != 0 {
			st.Until = time.UnixMilli(ms).UTC()
		}
		return st, true
	case *coffrev1.Certificate_EmergencyApproved:
		return EmergencyApproved{VaultID: s.EmergencyApproved.GetVaultId(), InvocationPosition: s.EmergencyApproved.GetInvocationPosition()}, true
	case *coffrev1.Certificate_VaultKeyReleased:
		r := s.VaultKeyReleased
		return VaultKeyReleased{VaultID: r.GetVaultId(), KeyIndex: r.GetKeyIndex(),
			Key: SealedKey{UserID: r.GetKey().GetUserId(), Sealed: r.GetKey().GetSealed()}}, true
	case *coffrev1.Certificate_VaultOwnershipTaken:
		return VaultOwnershipTaken{VaultID: s.VaultOwnershipTaken.GetVaultId(), Reason: s.VaultOwnershipTaken.GetReason()}, true
	}
	return nil, false
}

func emergencyToWire(s Statement, b *coffrev1.Certificate) bool {
	switch s := s.(type) {
	case EmergencyPolicy:
		b.Statement = &coffrev1.Certificate_EmergencyPolicy{EmergencyPolicy: &coffrev1.EmergencyPolicyStatement{
			VaultId: s.VaultID, InvokerUserIds: s.Invokers, InvokerProfile: coffrev1.Profile(s.InvokerProfile),
			OncallVaultId: s.OnCallVaultID, DurationMs: s.Duration.Milliseconds(), ApproverUserId: s.Approver}}
	case EmergencyInvoked:
		r := &coffrev1.EmergencyInvokedStatement{VaultId: s.VaultID, Reason: s.Reason}
		if !s.Until.IsZero() {
			r.UntilMs = s.Until.UnixMilli()
		}
		b.Statement = &coffrev1.Certificate_EmergencyInvoked{EmergencyInvoked: r}
	case EmergencyApproved:
		b.Statement = &coffrev1.Certificate_EmergencyApproved{EmergencyApproved: &coffrev1.EmergencyApprovedStatement{
			VaultId: s.VaultID, InvocationPosition: s.InvocationPosition}}
	case VaultKeyReleased:
		b.Statement = &coffrev1.Certificate_VaultKeyReleased{VaultKeyReleased: &coffrev1.VaultKeyReleasedStatement{
			VaultId: s.VaultID, KeyIndex: s.KeyIndex, Key: &coffrev1.SealedKey{UserId: s.Key.UserID, Sealed: s.Key.Sealed}}}
	case VaultOwnershipTaken:
		b.Statement = &coffrev1.Certificate_VaultOwnershipTaken{VaultOwnershipTaken: &coffrev1.VaultOwnershipTakenStatement{
			VaultId: s.VaultID, Reason: s.Reason}}
	default:
		return false
	}
	return true
}
