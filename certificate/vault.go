package certificate

import (
	"errors"
	"fmt"
	"sort"
	"time"

	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Role is a member's role in a vault (PRODUCT.md): owner > manager >
// contributor > reader. RoleNone removes a member.
type Role int

const (
	RoleNone        Role = 0
	RoleOwner       Role = Role(coffrev1.VaultRole_VAULT_ROLE_OWNER)
	RoleManager     Role = Role(coffrev1.VaultRole_VAULT_ROLE_MANAGER)
	RoleContributor Role = Role(coffrev1.VaultRole_VAULT_ROLE_CONTRIBUTOR)
	RoleReader      Role = Role(coffrev1.VaultRole_VAULT_ROLE_READER)
)

// ParseRole reads "owner", "manager", "contributor" or "reader".
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleOwner, RoleManager, RoleContributor, RoleReader} {
		if r.String() == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("unknown role %q (want owner, manager, contributor or reader)", s)
}

func (r Role) String() string {
	switch r {
	case RoleNone:
		return "none"
	case RoleOwner:
		return "owner"
	case RoleManager:
		return "manager"
	case RoleContributor:
		return "contributor"
	case RoleReader:
		return "reader"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// CanWrite reports whether the role may write files.
func (r Role) CanWrite() bool { return r == RoleOwner || r == RoleManager || r == RoleContributor }

// CanManage reports whether the role may share, unshare and rotate.
func (r Role) CanManage() bool { return r == RoleOwner || r == RoleManager }

// ErrManagerUntil is returned for a grant of owner or manager with an end
// date: the rights to share end only by a certificate at a log position,
// never by a time that the signer of a later statement chooses (SPEC.md
// §11.1, SECURITY.md A24).
var ErrManagerUntil = errors.New("an owner or manager grant can't have an end date: only contributors and readers can be given one")

// CheckGrantEnd refuses an end date on a grant of a role that may share.
func CheckGrantEnd(r Role, until time.Time) error {
	if r.CanManage() && !until.IsZero() {
		return ErrManagerUntil
	}
	return nil
}

func (r Role) valid() bool { return r >= RoleOwner && r <= RoleReader }

// SealedKey is a vault key sealed to one user.
type SealedKey struct {
	UserID string
	Sealed []byte
}

// KeyBundle introduces one vault key (SPEC.md §11.2).
type KeyBundle struct {
	Index        uint32
	Sealed       []SealedKey
	Canary       []byte
	PreviousKeys []byte
	// Commitment is LabeledSum("vault-key-commitment", …, key): the
	// member checks the key they unsealed against it (SECURITY.md A34).
	Commitment []byte
	Position   uint64 // set when folded
}

// Vault statements.
type (
	// VaultCreated creates a vault owned by the author's user.
	VaultCreated struct {
		VaultID       string
		EncryptedName []byte
		Key           KeyBundle
	}
	// VaultRoleSet grants, changes or (RoleNone) removes a member's role.
	VaultRoleSet struct {
		VaultID  string
		UserID   string
		Role     Role
		Until    time.Time  // zero: no end
		Key      *SealedKey // for a new member: the newest key
		KeyIndex uint32
	}
	// VaultKeyRotated introduces the next vault key.
	VaultKeyRotated struct {
		VaultID string
		Key     KeyBundle
	}
	// VaultRenamed renames a vault.
	VaultRenamed struct {
		VaultID       string
		KeyIndex      uint32
		EncryptedName []byte
	}
	// VaultArchived archives or restores a vault.
	VaultArchived struct {
		VaultID  string
		Archived bool
	}
)

func (VaultCreated) isStatement()    {}
func (VaultRoleSet) isStatement()    {}
func (VaultKeyRotated) isStatement() {}
func (VaultRenamed) isStatement()    {}
func (VaultArchived) isStatement()   {}

// Grant is a member's current role in a vault.
type Grant struct {
	UserID   string
	Role     Role
	Until    time.Time
	Position uint64
	// Keyless: the grant came without a key (an emergency invocation, an
	// ownership takeover); a member releases it (SPEC.md §16.3).
	Keyless bool
}

// Active reports whether the grant is in force at t.
func (g Grant) Active(t time.Time) bool {
	return g.Role != RoleNone && (g.Until.IsZero() || t.Before(g.Until))
}

// roleEvent is one change of a member's role, kept so that a write can be
// checked against the role its author had at the organisation position it
// claims.
type roleEvent struct {
	position uint64
	time     time.Time // the certificate's
	grant    Grant
	key      *GrantKey
	// released: the key came in a release (SPEC.md §16.3), which is no
	// anchor: a member who may not write can release, and a release may
	// come while a rotation is pending, when no checkpoint can follow.
	released bool
}

// GrantKey is the vault key sealed to a user in the grant that made them
// a member.
type GrantKey struct {
	Index  uint32
	Sealed []byte
}

// GrantKeys returns the keys sealed to a user in grants, oldest first.
func (v *Vault) GrantKeys(userID string) []GrantKey {
	var out []GrantKey
	for _, e := range v.history {
		if e.grant.UserID == userID && e.key != nil {
			out = append(out, *e.key)
		}
	}
	return out
}

// Vault is a vault as the verified log describes it.
type Vault struct {
	ID            string
	CreatedBy     string // user id
	CreatedAt     time.Time
	Position      uint64
	EncryptedName []byte
	NameKeyIndex  uint32
	Archived      bool
	Keys          []KeyBundle // Keys[i].Index == i+1

	grants  map[string]Grant
	history []roleEvent
	// holders are the users who were given the newest key: if one of them
	// is no longer an active member, the vault needs a rotation.
	holders map[string]bool

	// Policy is the vault's emergency policy, nil if none (SPEC.md §16).
	Policy      *EmergencyPolicy
	emergencies []Emergency
	takeovers   []Takeover
}

// KeyIndex returns the newest key index.
func (v *Vault) KeyIndex() uint32 { return uint32(len(v.Keys)) }

// AnchorPosition returns the position of the newest certificate after
// which the vault log must hold an entry claiming that position or a later
// one: the vault's creation, its newest key rotation, or the newest grant
// that gave a member a key. Whoever publishes one of these writes that
// entry (a checkpoint) next, so a vault log with no entry claiming the
// anchor is one the server withholds, or a checkpoint a crash lost
// (SPEC.md §11.5, SECURITY.md A30).
func (v *Vault) AnchorPosition() uint64 {
	p := v.Keys[len(v.Keys)-1].Position
	for _, e := range v.history {
		if e.key != nil && !e.released && e.position > p {
			p = e.position
		}
	}
	return p
}

// Grants returns the current grants, by user id.
func (v *Vault) Grants() []Grant {
	out := make([]Grant, 0, len(v.grants))
	for _, g := range v.grants {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out
}

// Vault returns a vault by id.
func (o *Organisation) Vault(id string) (*Vault, bool) { v, ok := o.vaults[id]; return v, ok }

// Vaults returns every vault, by creation position.
func (o *Organisation) Vaults() []*Vault {
	out := make([]*Vault, 0, len(o.vaults))
	for _, v := range o.vaults {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out
}

// RoleOf returns a user's role in a vault at time t: RoleNone if they are
// not a member, their grant has ended, or they are revoked.
func (o *Organisation) RoleOf(v *Vault, userID string, t time.Time) Role {
	g, ok := v.grants[userID]
	if !ok || !g.Active(t) {
		return RoleNone
	}
	if u, ok := o.users[userID]; !ok || u.Revoked() {
		return RoleNone
	}
	return g.Role
}

// RoleAt returns the role a user had in a vault just after log position
// pos, at time t (for checking writes against the position they claim).
func (o *Organisation) RoleAt(v *Vault, userID string, pos uint64, t time.Time) Role {
	if u, ok := o.users[userID]; !ok || (u.Revoked() && u.RevokedAt <= pos) {
		return RoleNone
	}
	var g *Grant
	for i := range v.history {
		e := &v.history[i]
		if e.position > pos {
			break
		}
		if e.grant.UserID == userID {
			g = &e.grant
		}
	}
	if g == nil || !g.Active(t) {
		return RoleNone
	}
	return g.Role
}

// LostWriteBy reports whether a certificate after log position pos, dated
// at or before t, revoked the user or left them without a write role in
// v: a write dated t comes after their removal, whatever older position it
// claims (SPEC.md §11.5).
func (o *Organisation) LostWriteBy(v *Vault, userID string, pos uint64, t time.Time) bool {
	if u, ok := o.users[userID]; ok && u.Revoked() && u.RevokedAt > pos && !u.RevokedOn.After(t) {
		return true
	}
	for _, e := range v.history {
		if e.position > pos && e.grant.UserID == userID && !e.grant.Role.CanWrite() && !e.time.After(t) {
			return true
		}
	}
	return false
}

// ActiveMembers returns the user ids with an active role at t.
func (o *Organisation) ActiveMembers(v *Vault, t time.Time) []string {
	var out []string
	for id := range v.grants {
		if o.RoleOf(v, id, t) != RoleNone {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// NeedsRotation reports whether someone who holds the newest key is no
// longer an active member at t, or lost a device since: then new content must wait for a new key
// (SPEC.md §11.4).
func (o *Organisation) NeedsRotation(v *Vault, t time.Time) bool {
	for id := range v.holders {
		// A device revoked since the newest key holds it too (SPEC.md §15),
		// and a key sealed before the user's keys were rotated opens with
		// the replaced key (§15.2): only a vault key after both clears them.
		newest := v.Keys[len(v.Keys)-1].Position
		if o.RoleOf(v, id, t) == RoleNone || o.exposedAt[id] > newest || (o.users[id] != nil && o.users[id].KeysRotatedAt() > newest) {
			return true
		}
	}
	return false
}

// checkVault applies the vault rules of SPEC.md §11.1 to the state where
// the certificate lands, with the roles in force at time at.
func (o *Organisation) checkVault(c *Certificate, author *User, at time.Time) error {
	p := c.Position
	if p <= 2 || author == nil {
		return o.broke(p, "vault statement at a bootstrap position")
	}
	switch s := c.Statement.(type) {
	case VaultCreated:
		switch {
		case author.Profile == ProfileOutsider:
			return o.broke(p, "an outsider can't own a vault")
		case !ValidID(s.VaultID):
			return o.broke(p, "malformed vault id %q", s.VaultID)
		case o.vaults[s.VaultID] != nil:
			return o.broke(p, "vault %q already exists", s.VaultID)
		case len(s.EncryptedName) == 0:
			return o.broke(p, "vault without a name")
		case len(s.Key.PreviousKeys) != 0:
			return o.broke(p, "a new vault has no previous keys")
		}
		return o.checkBundle(p, s.Key, 1, []string{author.ID})
	case VaultRoleSet:
		v, err := o.activeVault(p, s.VaultID)
		if err != nil {
			return err
		}
		mine := o.RoleOf(v, author.ID, at)
		target, ok := o.users[s.UserID]
		current := o.RoleOf(v, s.UserID, at)
		switch {
		case !mine.CanManage():
			return o.broke(p, "only an owner or a manager may share vault %q", v.ID)
		case !ok || target.Revoked():
			return o.broke(p, "role for unknown or revoked user %q", s.UserID)
		case s.UserID == author.ID:
			return o.broke(p, "nobody changes their own role")
		case s.Role != RoleNone && !s.Role.valid():
			return o.broke(p, "unknown role %d", int(s.Role))
		case mine == RoleManager && (s.Role == RoleOwner || s.Role == RoleManager || current == RoleOwner || current == RoleManager):
			return o.broke(p, "a manager grants and removes only contributors and readers")
		case target.Profile == ProfileOutsider && (s.Role == RoleOwner || s.Role == RoleManager):
			return o.broke(p, "an outsider can't own or manage a vault")
		case !s.Until.IsZero() && !s.Until.After(at):
			return o.broke(p, "a grant that ends before it starts")
		case s.Role == RoleNone && !s.Until.IsZero():
			return o.broke(p, "a removal with an end date")
		case CheckGrantEnd(s.Role, s.Until) != nil:
			return o.broke(p, "%v", ErrManagerUntil)
		}
		// A member whose grant came without a key is given it like a new one.
		newMember := (current == RoleNone || v.Keyless(s.UserID)) && s.Role != RoleNone
		if newMember {
			if s.Key == nil || s.Key.UserID != s.UserID || len(s.Key.Sealed) == 0 || s.KeyIndex != v.KeyIndex() {
				return o.broke(p, "a new member must get the newest key, sealed to them")
			}
			if o.NeedsRotation(v, at) {
				return o.broke(p, "vault %q needs a key rotation before new members join", v.ID)
			}
		} else if s.Key != nil {
			return o.broke(p, "a key for someone who already has one")
		}
	case VaultKeyRotated:
		v, err := o.activeVault(p, s.VaultID)
		if err != nil {
			return err
		}
		if !o.RoleOf(v, author.ID, at).CanManage() {
			return o.broke(p, "only an owner or a manager may rotate the key of vault %q", v.ID)
		}
		if len(s.Key.PreviousKeys) == 0 {
			return o.broke(p, "a rotation must carry the previous keys")
		}
		return o.checkBundle(p, s.Key, v.KeyIndex()+1, o.ActiveMembers(v, at))
	case VaultRenamed:
		v, err := o.activeVault(p, s.VaultID)
		if err != nil {
			return err
		}
		switch {
		case !o.RoleOf(v, author.ID, at).CanManage():
			return o.broke(p, "only an owner or a manager may rename vault %q", v.ID)
		case s.KeyIndex != v.KeyIndex() || len(s.EncryptedName) == 0:
			return o.broke(p, "a new name must be encrypted with the newest key")
		}
	case VaultArchived:
		v, ok := o.vaults[s.VaultID]
		if !ok {
			return o.broke(p, "unknown vault %q", s.VaultID)
		}
		if o.RoleOf(v, author.ID, at) != RoleOwner {
			return o.broke(p, "only an owner may archive vault %q", v.ID)
		}
	default:
		return o.checkEmergency(c, author, at)
	}
	return nil
}

func (o *Organisation) activeVault(p uint64, id string) (*Vault, error) {
	v, ok := o.vaults[id]
	switch {
	case !ok:
		return nil, o.broke(p, "unknown vault %q", id)
	case v.Archived:
		return nil, o.broke(p, "vault %q is archived", id)
	}
	return v, nil
}

// commitmentSize is a SHA-256 digest's (SPEC.md §2.5).
const commitmentSize = 32

// checkBundle: the key has the next index and is sealed to exactly the
// members, each once (SECURITY.md A6, A16).
func (o *Organisation) checkBundle(p uint64, b KeyBundle, index uint32, members []string) error {
	if b.Index != index {
		return o.broke(p, "key index %d, want %d", b.Index, index)
	}
	if len(b.Canary) == 0 {
		return o.broke(p, "a vault key without a canary")
	}
	if len(b.Commitment) != commitmentSize {
		return o.broke(p, "a vault key commitment of %d bytes, want %d", len(b.Commitment), commitmentSize)
	}
	sealed := make(map[string]bool, len(b.Sealed))
	for _, k := range b.Sealed {
		if sealed[k.UserID] || len(k.Sealed) == 0 {
			return o.broke(p, "key sealed twice or empty for %q", k.UserID)
		}
		sealed[k.UserID] = true
	}
	if len(sealed) != len(members) {
		return o.broke(p, "key sealed to %d users, the vault has %d members", len(sealed), len(members))
	}
	for _, m := range members {
		if !sealed[m] {
			return o.broke(p, "key not sealed to member %q", m)
		}
	}
	return nil
}

func (o *Organisation) foldVault(c *Certificate, author *User) {
	switch s := c.Statement.(type) {
	case VaultCreated:
		v := &Vault{
			ID: s.VaultID, CreatedBy: author.ID, CreatedAt: c.Time, Position: c.Position,
			EncryptedName: s.EncryptedName, NameKeyIndex: 1,
			grants: map[string]Grant{}, holders: map[string]bool{author.ID: true},
		}
		s.Key.Position = c.Position
		v.Keys = []KeyBundle{s.Key}
		g := Grant{UserID: author.ID, Role: RoleOwner, Position: c.Position}
		v.grants[author.ID] = g
		v.history = append(v.history, roleEvent{position: c.Position, grant: g})
		o.vaults[v.ID] = v
	case VaultRoleSet:
		v := o.vaults[s.VaultID]
		g := Grant{UserID: s.UserID, Role: s.Role, Until: s.Until, Position: c.Position}
		if s.Role == RoleNone {
			delete(v.grants, s.UserID)
		} else {
			v.grants[s.UserID] = g
		}
		ev := roleEvent{position: c.Position, time: c.Time, grant: g}
		if s.Key != nil {
			v.holders[s.UserID] = true
			ev.key = &GrantKey{Index: s.KeyIndex, Sealed: s.Key.Sealed}
		}
		v.history = append(v.history, ev)
	case VaultKeyRotated:
		v := o.vaults[s.VaultID]
		s.Key.Position = c.Position
		v.Keys = append(v.Keys, s.Key)
		v.holders = map[string]bool{}
		for _, k := range s.Key.Sealed {
			v.holders[k.UserID] = true
		}
		// Grants that ended, and revoked users, are gone with the key
		// they held.
		for id := range v.grants {
			if o.RoleOf(v, id, c.Time) == RoleNone {
				delete(v.grants, id)
			}
		}
	case VaultRenamed:
		v := o.vaults[s.VaultID]
		v.EncryptedName, v.NameKeyIndex = s.EncryptedName, s.KeyIndex
	case VaultArchived:
		o.vaults[s.VaultID].Archived = s.Archived
	default:
		o.foldEmergency(c, author)
	}
}

func (v *Vault) clone() *Vault {
	c := *v
	c.Keys = append([]KeyBundle(nil), v.Keys...)
	c.history = append([]roleEvent(nil), v.history...)
	c.grants = cloneMap(v.grants)
	c.emergencies = append([]Emergency(nil), v.emergencies...)
	c.takeovers = append([]Takeover(nil), v.takeovers...)
	c.holders = cloneMap(v.holders)
	return &c
}

// Wire conversion of vault statements.

func bundleFromWire(b *coffrev1.KeyBundle) KeyBundle {
	out := KeyBundle{Index: b.GetIndex(), Canary: b.GetCanary(), PreviousKeys: b.GetPreviousKeys(), Commitment: b.GetCommitment()}
	for _, k := range b.GetSealed() {
		out.Sealed = append(out.Sealed, SealedKey{UserID: k.GetUserId(), Sealed: k.GetSealed()})
	}
	return out
}

func bundleToWire(b KeyBundle) *coffrev1.KeyBundle {
	out := &coffrev1.KeyBundle{Index: b.Index, Canary: b.Canary, PreviousKeys: b.PreviousKeys, Commitment: b.Commitment}
	for _, k := range b.Sealed {
		out.Sealed = append(out.Sealed, &coffrev1.SealedKey{UserId: k.UserID, Sealed: k.Sealed})
	}
	return out
}

func vaultStatementFromWire(b *coffrev1.Certificate) (Statement, bool) {
	switch s := b.GetStatement().(type) {
	case *coffrev1.Certificate_VaultCreated:
		return VaultCreated{VaultID: s.VaultCreated.GetVaultId(), EncryptedName: s.VaultCreated.GetEncryptedName(),
			Key: bundleFromWire(s.VaultCreated.GetKey())}, true
	case *coffrev1.Certificate_VaultRole:
		r := s.VaultRole
		st := VaultRoleSet{VaultID: r.GetVaultId(), UserID: r.GetUserId(), Role: Role(r.GetRole()), KeyIndex: r.GetKeyIndex()}
		if r.GetUntilMs() != 0 {
			st.Until = time.UnixMilli(r.GetUntilMs()).UTC()
		}
		if r.GetKey() != nil {
			st.Key = &SealedKey{UserID: r.GetKey().GetUserId(), Sealed: r.GetKey().GetSealed()}
		}
		return st, true
	case *coffrev1.Certificate_VaultKeyRotated:
		return VaultKeyRotated{VaultID: s.VaultKeyRotated.GetVaultId(), Key: bundleFromWire(s.VaultKeyRotated.GetKey())}, true
	case *coffrev1.Certificate_VaultRenamed:
		return VaultRenamed{VaultID: s.VaultRenamed.GetVaultId(), KeyIndex: s.VaultRenamed.GetKeyIndex(),
			EncryptedName: s.VaultRenamed.GetEncryptedName()}, true
	case *coffrev1.Certificate_VaultArchived:
		return VaultArchived{VaultID: s.VaultArchived.GetVaultId(), Archived: s.VaultArchived.GetArchived()}, true
	}
	return emergencyFromWire(b)
}

func vaultStatementToWire(s Statement, b *coffrev1.Certificate) bool {
	switch s := s.(type) {
	case VaultCreated:
		b.Statement = &coffrev1.Certificate_VaultCreated{VaultCreated: &coffrev1.VaultCreatedStatement{
			VaultId: s.VaultID, EncryptedName: s.EncryptedName, Key: bundleToWire(s.Key)}}
	case VaultRoleSet:
		r := &coffrev1.VaultRoleStatement{VaultId: s.VaultID, UserId: s.UserID, Role: coffrev1.VaultRole(s.Role), KeyIndex: s.KeyIndex}
		if !s.Until.IsZero() {
			r.UntilMs = s.Until.UnixMilli()
		}
		if s.Key != nil {
			r.Key = &coffrev1.SealedKey{UserId: s.Key.UserID, Sealed: s.Key.Sealed}
		}
		b.Statement = &coffrev1.Certificate_VaultRole{VaultRole: r}
	case VaultKeyRotated:
		b.Statement = &coffrev1.Certificate_VaultKeyRotated{VaultKeyRotated: &coffrev1.VaultKeyRotatedStatement{
			VaultId: s.VaultID, Key: bundleToWire(s.Key)}}
	case VaultRenamed:
		b.Statement = &coffrev1.Certificate_VaultRenamed{VaultRenamed: &coffrev1.VaultRenamedStatement{
			VaultId: s.VaultID, KeyIndex: s.KeyIndex, EncryptedName: s.EncryptedName}}
	case VaultArchived:
		b.Statement = &coffrev1.Certificate_VaultArchived{VaultArchived: &coffrev1.VaultArchivedStatement{
			VaultId: s.VaultID, Archived: s.Archived}}
	default:
		return emergencyToWire(s, b)
	}
	return true
}
