package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/workspace"
)

// Emergency access and orphan vaults (SPEC.md §16). The key reaches an
// invoker, or an admin who took over a vault, only when the client of a
// member of the vault releases it after verifying the certificate in its
// own log: PrepareVault does it as upkeep (releaseKeys).

var (
	// ErrNoReason is returned for an invocation or a takeover without a
	// reason: the reason is signed and shown to the vault's owners.
	ErrNoReason = errors.New("a reason is required, and is shown to the vault's owners")
	// ErrNoEmergencyPolicy is returned when the vault has no emergency
	// policy: its owners set one first.
	ErrNoEmergencyPolicy = errors.New("this vault has no emergency policy")
	// ErrNotInvoker is returned when the vault's emergency policy does not
	// name this user (by id, profile or on-call vault).
	ErrNotInvoker = errors.New("the vault's emergency policy does not let you invoke it")
	// ErrAlreadyMember is returned for an invocation by a user who has a
	// role in the vault, a running emergency included: an emergency is
	// never extended, a new one starts after the old one ended.
	ErrAlreadyMember = errors.New("you already have access to this vault (an emergency is never extended)")
	// ErrKeyNotReleased is returned when opening a vault whose grant came
	// without a key (an emergency, a takeover) before a member of the
	// vault released it: their client does when it next works in it.
	ErrKeyNotReleased = errors.New("the vault key has not been released to you yet")
	// ErrOwnerActive is returned for a takeover of a vault that still has
	// an active owner.
	ErrOwnerActive = errors.New("this vault still has an active owner")
)

// EmergencyPolicyOptions is a vault's emergency policy, by reference:
// users by email or id, the on-call vault by name or id.
type EmergencyPolicyOptions struct {
	Invokers    []string
	Profile     certificate.Profile // 0: none
	OnCallVault string
	Duration    time.Duration // 0: certificate.DefaultEmergencyDuration
	Approver    string
}

// SetEmergencyPolicy sets (replaces) a vault's emergency policy; with no
// invoker at all it removes it. Only an owner may.
func (s *Session) SetEmergencyPolicy(ctx context.Context, ref string, o EmergencyPolicyOptions) error {
	v, err := s.findVault(ref)
	if err != nil {
		return err
	}
	st := certificate.EmergencyPolicy{VaultID: v.ID, InvokerProfile: o.Profile, Duration: o.Duration}
	for _, r := range o.Invokers {
		u, err := s.FindUser(r)
		if err != nil {
			return err
		}
		st.Invokers = append(st.Invokers, u.ID)
	}
	if o.OnCallVault != "" {
		oc, err := s.findVault(o.OnCallVault)
		if err != nil {
			return fmt.Errorf("on-call vault: %w", err)
		}
		st.OnCallVaultID = oc.ID
	}
	if o.Approver != "" {
		u, err := s.FindUser(o.Approver)
		if err != nil {
			return err
		}
		st.Approver = u.ID
	}
	if len(st.Invokers) == 0 && st.InvokerProfile == 0 && st.OnCallVaultID == "" {
		st.Duration, st.Approver = 0, ""
	} else if st.Duration == 0 {
		st.Duration = certificate.DefaultEmergencyDuration
	}
	return s.publish(ctx, "", func() ([]certificate.Statement, error) {
		return []certificate.Statement{st}, nil
	})
}

// EmergencyInfo is one invocation of an emergency policy, or one takeover,
// as the verified log describes it.
type EmergencyInfo struct {
	Kind      string    `json:"kind"` // "emergency" or "takeover"
	VaultID   string    `json:"vault_id"`
	VaultName string    `json:"vault_name,omitempty"` // "" when this user can't decrypt it
	Position  uint64    `json:"position"`
	UserID    string    `json:"user_id"`
	User      string    `json:"user"` // "name <email>"
	Reason    string    `json:"reason"`
	Start     time.Time `json:"start"`
	Until     time.Time `json:"until,omitzero"`
	// NeedsApproval and Approved: the policy named an approver, and they
	// approved.
	NeedsApproval bool   `json:"needs_approval,omitempty"`
	Approved      bool   `json:"approved,omitempty"`
	ApprovedBy    string `json:"approved_by,omitempty"`
	// Released: a member's client released the vault key to the user.
	Released bool `json:"released,omitempty"`
	// Running: the emergency gives its invoker a role now.
	Running bool `json:"running,omitempty"`
}

// Emergencies lists, from the verified log, the emergency invocations of
// every vault this user owns or manages, and those this user made or must
// approve, and the ownership takeovers of every vault this user is a
// member of, oldest first (SPEC.md §16.3). Nothing here is what the server
// says: each is a certificate this device verified.
func (s *Session) Emergencies() []EmergencyInfo {
	var out []EmergencyInfo
	now, me := time.Now(), s.keys.UserID
	for _, v := range s.org.Vaults() {
		if len(v.Emergencies()) == 0 && len(v.Takeovers()) == 0 {
			continue // no key to open for a vault with nothing to show
		}
		role := s.org.RoleOf(v, me, now)
		name := s.vaultName(v)
		for _, e := range v.Emergencies() {
			approver := v.Policy != nil && v.Policy.Approver == me
			if !role.CanManage() && e.UserID != me && !approver {
				continue
			}
			out = append(out, EmergencyInfo{Kind: "emergency", VaultID: v.ID, VaultName: name, Position: e.Position,
				UserID: e.UserID, User: s.userLabel(e.UserID), Reason: e.Reason, Start: e.Start, Until: e.Until,
				NeedsApproval: e.NeedsApproval, Approved: e.Approved, ApprovedBy: s.userLabel(e.ApprovedBy),
				Released: e.Released, Running: e.Running(now)})
		}
		for _, t := range v.Takeovers() {
			if role == certificate.RoleNone && !s.IsAdmin() {
				continue
			}
			out = append(out, EmergencyInfo{Kind: "takeover", VaultID: v.ID, VaultName: name, Position: t.Position,
				UserID: t.UserID, User: s.userLabel(t.UserID), Reason: t.Reason, Start: t.Time})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out
}

// InvocableVault is a vault whose emergency policy lets this user invoke it.
type InvocableVault struct {
	ID        string        `json:"id"`
	CreatedBy string        `json:"created_by"`
	Duration  time.Duration `json:"duration"`
	Approver  string        `json:"approver,omitempty"`
}

// InvocableVaults lists the vaults this user may open in an emergency: an
// invoker is not a member, so they know a vault by its id only.
func (s *Session) InvocableVaults() []InvocableVault {
	var out []InvocableVault
	now := time.Now()
	for _, v := range s.org.Vaults() {
		if v.Archived || !s.org.MayInvoke(v, s.keys.UserID, now) {
			continue
		}
		iv := InvocableVault{ID: v.ID, CreatedBy: s.userLabel(v.CreatedBy), Duration: v.Policy.Duration}
		if v.Policy.Approver != "" {
			iv.Approver = s.userLabel(v.Policy.Approver)
		}
		out = append(out, iv)
	}
	return out
}

// InvokeEmergency invokes a vault's emergency policy with a reason: this
// user reads the vault until now + the policy's duration (after the
// approver's approval, if the policy names one). The key is released by
// the next member of the vault and works in the vault.
func (s *Session) InvokeEmergency(ctx context.Context, vaultID, reason string) (EmergencyInfo, error) {
	if strings.TrimSpace(reason) == "" {
		return EmergencyInfo{}, ErrNoReason
	}
	if len(reason) > certificate.MaxReasonBytes {
		return EmergencyInfo{}, fmt.Errorf("the reason is over %d bytes", certificate.MaxReasonBytes)
	}
	var id string
	err := s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, ok := s.org.Vault(vaultID)
		now := time.Now().Truncate(time.Millisecond)
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: %q (give the vault's id)", ErrUnknownVault, vaultID)
		case v.Policy == nil:
			return nil, ErrNoEmergencyPolicy
		case !s.org.MayInvoke(v, s.keys.UserID, now):
			return nil, ErrNotInvoker
		case s.org.RoleOf(v, s.keys.UserID, now) != certificate.RoleNone:
			return nil, ErrAlreadyMember
		}
		id = v.ID
		return []certificate.Statement{certificate.EmergencyInvoked{VaultID: v.ID, Reason: reason, Until: now.Add(v.Policy.Duration)}}, nil
	})
	if err != nil {
		return EmergencyInfo{}, err
	}
	all := s.Emergencies()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].VaultID == id && all[i].UserID == s.keys.UserID && all[i].Kind == "emergency" {
			return all[i], nil
		}
	}
	return EmergencyInfo{}, fmt.Errorf("client: internal error: invocation of %s not in the verified log", id)
}

// ApproveEmergency approves the waiting invocation of a vault by a user;
// only the policy's approver may.
func (s *Session) ApproveEmergency(ctx context.Context, vaultID, invokerRef string) error {
	u, err := s.FindUser(invokerRef)
	if err != nil {
		return err
	}
	return s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, ok := s.org.Vault(vaultID)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownVault, vaultID)
		}
		es := v.Emergencies()
		for i := len(es) - 1; i >= 0; i-- {
			if e := es[i]; e.UserID == u.ID && e.NeedsApproval && !e.Approved {
				return []certificate.Statement{certificate.EmergencyApproved{VaultID: v.ID, InvocationPosition: e.Position}}, nil
			}
		}
		return nil, fmt.Errorf("%s has no invocation of this vault waiting for approval", u.Email)
	})
}

// TakeOwnership makes this user, an admin, an owner of a vault whose
// owners are all gone, with a reason every member sees. It gives
// authority, not the key: a remaining member of the vault releases the
// key when they next work in the vault (SPEC.md §16.4).
func (s *Session) TakeOwnership(ctx context.Context, vaultID, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return ErrNoReason
	}
	if err := s.requireAdmin(); err != nil {
		return err
	}
	return s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, ok := s.org.Vault(vaultID)
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownVault, vaultID)
		}
		now := time.Now()
		for _, g := range v.Grants() {
			if s.org.RoleOf(v, g.UserID, now) == certificate.RoleOwner {
				return nil, fmt.Errorf("%w: %s", ErrOwnerActive, s.userLabel(g.UserID))
			}
		}
		return []certificate.Statement{certificate.VaultOwnershipTaken{VaultID: v.ID, Reason: reason}}, nil
	})
}

// releaseKeys seals the vault's newest key to each member whose grant came
// without one (an emergency, a takeover), when this user is an active
// member holding that key. The certificate rules admit a release only for
// a grant the verified log made: this client releases to nobody the log
// does not name.
func (s *Session) releaseKeys(ctx context.Context, vaultID string) ([]string, error) {
	var to []string
	v, _ := s.org.Vault(vaultID)
	if !s.mayRelease(v) || !hasKeyless(s.org, v) {
		return nil, nil
	}
	err := s.publish(ctx, "", func() ([]certificate.Statement, error) {
		v, _ := s.org.Vault(vaultID)
		to = nil
		if !s.mayRelease(v) || !hasKeyless(s.org, v) {
			return nil, errNothingToRelease
		}
		keys, err := s.openKeys(s.org, v)
		if err != nil {
			return nil, err
		}
		index, key := keys.Newest()
		if index != v.KeyIndex() {
			return nil, errNothingToRelease // the rules admit only a holder of the newest key
		}
		var stmts []certificate.Statement
		now := time.Now()
		for _, g := range v.Grants() {
			if !v.Keyless(g.UserID) || s.org.RoleOf(v, g.UserID, now) == certificate.RoleNone {
				continue
			}
			u, _ := s.org.User(g.UserID)
			sealed, err := workspace.SealKeyTo(s.org.ID, v.ID, index, u, key)
			if err != nil {
				return nil, err
			}
			stmts = append(stmts, certificate.VaultKeyReleased{VaultID: v.ID, KeyIndex: index,
				Key: certificate.SealedKey{UserID: u.ID, Sealed: sealed}})
			to = append(to, u.ID)
		}
		return stmts, nil
	})
	if errors.Is(err, errNothingToRelease) {
		return nil, nil
	}
	return to, err
}

// errNothingToRelease: another member released the key first.
var errNothingToRelease = errors.New("nothing to release")

// mayRelease: an active member of a vault not archived, not waiting for a
// key themselves (the rules then check they hold the newest one).
func (s *Session) mayRelease(v *certificate.Vault) bool {
	return !v.Archived && s.org.RoleOf(v, s.keys.UserID, time.Now()) != certificate.RoleNone && !v.Keyless(s.keys.UserID)
}

func hasKeyless(org *certificate.Organisation, v *certificate.Vault) bool {
	now := time.Now()
	for _, g := range v.Grants() {
		if v.Keyless(g.UserID) && org.RoleOf(v, g.UserID, now) != certificate.RoleNone {
			return true
		}
	}
	return false
}

// vaultName is the vault's name if this user can decrypt it, else "".
func (s *Session) vaultName(v *certificate.Vault) string {
	keys, err := s.openKeys(s.org, v)
	if err != nil {
		return ""
	}
	name, err := workspace.DecryptName(s.org.ID, v, keys)
	if err != nil {
		return ""
	}
	return name
}

// userLabel is "name <email>", or the id of a user the log does not know.
func (s *Session) userLabel(id string) string {
	if u, ok := s.org.User(id); ok {
		return fmt.Sprintf("%s <%s>", u.Name, u.Email)
	}
	return id
}

// describeEmergency words an emergency statement for the audit (SPEC.md
// §16): the reason is signed, and shown whole.
func describeEmergency(org *certificate.Organisation, st certificate.Statement, c *certificate.Certificate, who, vault func(string) string) string {
	switch st := st.(type) {
	case certificate.EmergencyPolicy:
		if len(st.Invokers) == 0 && st.InvokerProfile == 0 && st.OnCallVaultID == "" {
			return "removed the emergency policy of " + vault(st.VaultID)
		}
		var by []string
		for _, id := range st.Invokers {
			by = append(by, who(id))
		}
		if st.InvokerProfile != 0 {
			by = append(by, "every "+st.InvokerProfile.String())
		}
		if st.OnCallVaultID != "" {
			by = append(by, "members of "+vault(st.OnCallVaultID))
		}
		d := fmt.Sprintf("set the emergency policy of %s: %s may invoke it for %s", vault(st.VaultID), strings.Join(by, ", "), st.Duration)
		if st.Approver != "" {
			d += ", approved by " + who(st.Approver)
		}
		return d
	case certificate.EmergencyInvoked:
		return fmt.Sprintf("EMERGENCY ACCESS to %s until %s, reason: %q", vault(st.VaultID), st.Until.Format(time.RFC3339), st.Reason)
	case certificate.EmergencyApproved:
		d := fmt.Sprintf("approved the emergency access to %s invoked at position %d", vault(st.VaultID), st.InvocationPosition)
		if v, ok := org.Vault(st.VaultID); ok {
			for _, e := range v.Emergencies() {
				if e.Position == st.InvocationPosition {
					d = fmt.Sprintf("approved the emergency access of %s to %s (position %d)", who(e.UserID), vault(st.VaultID), e.Position)
				}
			}
		}
		return d
	case certificate.VaultKeyReleased:
		return fmt.Sprintf("released key %d of %s to %s", st.KeyIndex, vault(st.VaultID), who(st.Key.UserID))
	case certificate.VaultOwnershipTaken:
		return fmt.Sprintf("TOOK OWNERSHIP of %s (no owner was left), reason: %q", vault(st.VaultID), st.Reason)
	}
	return fmt.Sprintf("%T", c.Statement)
}
