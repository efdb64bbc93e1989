package certificate

import (
	"bytes"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/coffre/coffre/crypto"
)

// Head is the position and hash of the last verified log entry.
type Head struct {
	Position uint64
	Hash     []byte
}

// Genesis is the hash that entry 1 extends: it binds the chain to one
// organisation and one root key (SPEC.md §4.1).
func Genesis(orgID string, root crypto.VerifyKey) []byte {
	d := crypto.LabeledSum("log-genesis", []byte(orgID), root.Bytes())
	return d[:]
}

// EntryHash is the chain hash of an entry: H(previous hash, entry bytes).
func EntryHash(prev, data []byte) []byte {
	d := crypto.LabeledSum("log-entry", prev, data)
	return d[:]
}

// User is a member as the verified log describes them.
type User struct {
	ID      string
	Name    string
	Email   string
	Profile Profile
	SealKey crypto.SealPublicKey
	// IdentityCommitment is set for a user whose name and email travel
	// apart from the log (SPEC.md §17); Name and Email are then empty
	// here until the client opens the commitment.
	IdentityCommitment []byte
	CreatedAt          time.Time
	CreatedBy          string // device id; "" for the root key
	// Position of the UserCreated certificate and, once revoked, of the
	// revocation: anything the user's devices sign after it is refused.
	Position  uint64
	RevokedAt uint64
	RevokedBy string
	RevokedOn time.Time
	// Rotations of the user's keys, oldest first (SPEC.md §15.2); SealKey
	// is the newest's key.
	Rotations []SealKeyRotation
}

// Revoked reports whether the user is revoked.
func (u *User) Revoked() bool { return u.RevokedAt != 0 }

// Device is a device as the verified log describes it.
type Device struct {
	ID        string
	UserID    string
	Label     string
	VerifyKey crypto.VerifyKey
	// SealKey is the device's own seal key, zero if it has none (SPEC.md §15.2).
	SealKey   crypto.SealPublicKey
	CreatedAt time.Time
	CreatedBy string
	Position  uint64
	// Set once the device is revoked (SPEC.md §15).
	RevokedAt uint64
	RevokedBy string
	RevokedOn time.Time
}

// Organisation is the state folded from a verified log. The zero value is
// not usable; use NewOrganisation.
type Organisation struct {
	ID   string
	Root crypto.VerifyKey
	Head Head

	users   map[string]*User
	devices map[string]*Device
	vaults  map[string]*Vault
	hashes  [][]byte // hashes[p] is the chain hash after position p
	// Indexes that keep each check constant-time in the organisation's size.
	activeEmail map[string]string // email → id of the non-revoked user holding it
	deviceCount map[string]int    // user id → number of devices
	exposedAt   map[string]uint64 // user id → position of their newest device revocation
	lastTime    time.Time
	// sharedRecoveries: user id → their current shared recovery (§15.6).
	sharedRecoveries map[string]*SharedRecovery
}

// NewOrganisation returns the state of an empty log for that organisation
// and root key (from the organisation link, never from the server).
func NewOrganisation(id string, root crypto.VerifyKey) *Organisation {
	return &Organisation{
		ID:      id,
		Root:    root,
		Head:    Head{Position: 0, Hash: Genesis(id, root)},
		users:   map[string]*User{},
		devices: map[string]*Device{},
		vaults:  map[string]*Vault{},
		hashes:  [][]byte{Genesis(id, root)},

		activeEmail: map[string]string{},
		deviceCount: map[string]int{},
		exposedAt:   map[string]uint64{},

		sharedRecoveries: map[string]*SharedRecovery{},
	}
}

// HashAt returns the chain hash after position pos of the verified log,
// so that a head another device reports can be compared (SPEC.md §4.4).
func (o *Organisation) HashAt(pos uint64) ([]byte, bool) {
	if pos >= uint64(len(o.hashes)) {
		return nil, false
	}
	return o.hashes[pos], true
}

// User returns a user by id.
func (o *Organisation) User(id string) (*User, bool) { u, ok := o.users[id]; return u, ok }

// Device returns a device by id.
func (o *Organisation) Device(id string) (*Device, bool) { d, ok := o.devices[id]; return d, ok }

// Users returns every user, revoked ones included, by creation position.
func (o *Organisation) Users() []*User {
	out := make([]*User, 0, len(o.users))
	for _, u := range o.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out
}

// Devices returns a user's devices by position.
func (o *Organisation) Devices(userID string) []*Device {
	var out []*Device
	for _, d := range o.devices {
		if d.UserID == userID {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Position < out[j].Position })
	return out
}

// ActiveDevice returns the device and its user if the device exists and its
// user is not revoked.
func (o *Organisation) ActiveDevice(id string) (*Device, *User, error) {
	d, ok := o.devices[id]
	if !ok {
		return nil, nil, fmt.Errorf("unknown device %q", id)
	}
	u := o.users[d.UserID]
	if u.Revoked() {
		return nil, nil, fmt.Errorf("device %q belongs to revoked user %q", id, u.ID)
	}
	if d.Revoked() {
		return nil, nil, fmt.Errorf("device %q was revoked at position %d", id, d.RevokedAt)
	}
	return d, u, nil
}

// Apply verifies one log entry against the state and, only if every check
// passes, folds it in and advances the head (SPEC.md §4.3). The checks, in
// order: the entry extends the verified chain; the certificate is well
// formed, for this organisation, at this position; the author's key
// verifies the signature; the statement obeys the rules of SPEC.md §3.3.
func (o *Organisation) Apply(position uint64, data []byte) (*Certificate, error) {
	return o.apply(position, data, time.Time{})
}

// ApplyAt is Apply for a writer with a clock it trusts, the server: the
// rules that depend on time (a vault role with an end) hold both at the
// time the certificate claims and at now, so that a signer can't date a
// statement back to before its rights ended (SPEC.md §11.1, SECURITY.md
// A24).
func (o *Organisation) ApplyAt(position uint64, data []byte, now time.Time) (*Certificate, error) {
	return o.apply(position, data, now)
}

func (o *Organisation) apply(position uint64, data []byte, now time.Time) (*Certificate, error) {
	return o.applyPrechecked(position, data, now, prechecked{})
}

// applyPrechecked is apply with what ApplyAll may have worked out already
// on other cores (parallel.go): the parsed entry, and a key its signature
// verified with, used only if it is the author's key at this position.
func (o *Organisation) applyPrechecked(position uint64, data []byte, now time.Time, pre prechecked) (*Certificate, error) {
	if position != o.Head.Position+1 {
		return nil, fmt.Errorf("%w: got position %d after %d", ErrChain, position, o.Head.Position)
	}
	c, err := pre.c, pre.err
	if !pre.parsed {
		c, err = Parse(data)
	}
	if err != nil {
		return nil, fmt.Errorf("position %d: %w", position, err)
	}
	if c.OrganisationID != o.ID {
		return nil, o.broke(position, "certificate of organisation %q", c.OrganisationID)
	}
	if c.Position != position || !bytes.Equal(c.PreviousHash, o.Head.Hash) {
		return nil, fmt.Errorf("%w: certificate at %d claims position %d and a different previous hash", ErrChain, position, c.Position)
	}
	key, err := o.authorKey(c)
	if err != nil {
		return nil, err
	}
	if !pre.verifiedWith(key) {
		if err := c.verify(key); err != nil {
			return nil, err
		}
	}
	if c.Time.Before(o.lastTime) {
		return nil, o.broke(position, "timestamp %s goes back before %s", c.Time.Format(time.RFC3339), o.lastTime.Format(time.RFC3339))
	}
	if err := o.check(c, now); err != nil {
		return nil, err
	}
	o.fold(c)
	o.lastTime = c.Time
	hash := pre.hash // worked out from c.PreviousHash, checked above to be the head's
	if hash == nil {
		hash = EntryHash(o.Head.Hash, data)
	}
	o.Head = Head{Position: position, Hash: hash}
	o.hashes = append(o.hashes, hash)
	return c, nil
}

// authorKey finds the key that must have signed c. Only the root key signs
// positions 1 and 2 (the first admin and their device), and nothing else.
func (o *Organisation) authorKey(c *Certificate) (crypto.VerifyKey, error) {
	if c.Position <= 2 {
		if c.Author != "" {
			return crypto.VerifyKey{}, o.broke(c.Position, "bootstrap certificate not signed by the root key")
		}
		return o.Root, nil
	}
	if c.Author == "" {
		return crypto.VerifyKey{}, o.broke(c.Position, "the root key signs only the bootstrap certificates")
	}
	d, ok := o.devices[c.Author]
	if !ok {
		return crypto.VerifyKey{}, o.broke(c.Position, "author %q is not a known device", c.Author)
	}
	if u := o.users[d.UserID]; u.Revoked() {
		return crypto.VerifyKey{}, o.broke(c.Position, "author %q belongs to user %q, revoked at position %d", c.Author, u.ID, u.RevokedAt)
	}
	if d.Revoked() {
		return crypto.VerifyKey{}, o.broke(c.Position, "author %q was revoked at position %d", c.Author, d.RevokedAt)
	}
	return d.VerifyKey, nil
}

// check applies the rules of SPEC.md §3.3 to a certificate whose signature
// verified, at the position where it lands; the vault rules also at now
// unless it is zero.
func (o *Organisation) check(c *Certificate, now time.Time) error {
	p := c.Position
	var author *User
	if c.Author != "" {
		author = o.users[o.devices[c.Author].UserID]
	}
	isAdmin := author != nil && author.Profile == ProfileAdmin
	switch s := c.Statement.(type) {
	case UserCreated:
		switch {
		case p == 2:
			return o.broke(p, "position 2 must add the first admin's device")
		case p == 1 && s.Profile != ProfileAdmin:
			return o.broke(p, "the first user must be an admin")
		case p > 2 && !isAdmin:
			return o.broke(p, "only an admin may create a user")
		case !ValidID(s.UserID):
			return o.broke(p, "malformed user id %q", s.UserID)
		case !s.Profile.valid():
			return o.broke(p, "unknown profile %d", int(s.Profile))
		case s.IdentityCommitment != nil && (len(s.IdentityCommitment) != 32 || s.Name != "" || s.Email != ""):
			return o.broke(p, "user with both an identity commitment and a name or email in clear")
		case s.IdentityCommitment == nil && s.Email == "":
			return o.broke(p, "user without an email")
		}
		if _, taken := o.users[s.UserID]; taken {
			return o.broke(p, "user id %q already exists", s.UserID)
		}
		// A committed email is unknown to the log: its uniqueness is the
		// inviting admin's client's to check (SPEC.md §17).
		if holder, taken := o.activeEmail[s.Email]; taken && s.Email != "" {
			return o.broke(p, "email %q already belongs to user %q", s.Email, holder)
		}
	case DeviceAdded:
		if p == 1 {
			return o.broke(p, "position 1 must create the first admin")
		}
		target, ok := o.users[s.UserID]
		switch {
		case !ok:
			return o.broke(p, "device for unknown user %q", s.UserID)
		case target.Revoked():
			return o.broke(p, "device for revoked user %q", s.UserID)
		case !ValidID(s.DeviceID):
			return o.broke(p, "malformed device id %q", s.DeviceID)
		}
		if _, taken := o.devices[s.DeviceID]; taken {
			return o.broke(p, "device id %q already exists", s.DeviceID)
		}
		if p == 2 {
			return nil // root-signed device of the first admin, created at 1
		}
		// A user adds their own devices. An admin may add only the first
		// device of a user it enrols: never a device to an existing
		// member's account, which would let it act as them.
		if author.ID != target.ID && !(isAdmin && o.deviceCount[target.ID] == 0) {
			return o.broke(p, "device %q added to user %q by someone else", s.DeviceID, s.UserID)
		}
	case UserRevoked:
		target, ok := o.users[s.UserID]
		switch {
		case p <= 2 || !isAdmin:
			return o.broke(p, "only an admin may revoke a user")
		case !ok:
			return o.broke(p, "revocation of unknown user %q", s.UserID)
		case target.Revoked():
			return o.broke(p, "user %q is already revoked", s.UserID)
		case target.ID == author.ID:
			return o.broke(p, "an admin may not revoke themselves")
		}
	case ProfileChanged:
		target, ok := o.users[s.UserID]
		switch {
		case p <= 2 || !isAdmin:
			return o.broke(p, "only an admin may change a profile")
		case !ok || target.Revoked():
			return o.broke(p, "profile change for unknown or revoked user %q", s.UserID)
		case target.ID == author.ID:
			return o.broke(p, "an admin may not change their own profile")
		case !s.Profile.valid():
			return o.broke(p, "unknown profile %d", int(s.Profile))
		}
	case DeviceRevoked:
		return o.checkDeviceRevoked(c, s, author)
	case SharedRecoverySet:
		return o.checkSharedRecovery(c, s, author)
	case UserKeysRotated:
		return o.checkUserKeysRotated(c, s, author)
	case VaultCreated, VaultRoleSet, VaultKeyRotated, VaultRenamed, VaultArchived,
		EmergencyPolicy, EmergencyInvoked, EmergencyApproved, VaultKeyReleased, VaultOwnershipTaken:
		if err := o.checkVault(c, author, c.Time); err != nil || now.IsZero() {
			return err
		}
		return o.checkVault(c, author, now)
	default:
		return o.broke(p, "unknown statement")
	}
	return nil
}

func (o *Organisation) fold(c *Certificate) {
	switch s := c.Statement.(type) {
	case UserCreated:
		o.users[s.UserID] = &User{
			ID: s.UserID, Name: s.Name, Email: s.Email, Profile: s.Profile, SealKey: s.SealKey,
			IdentityCommitment: s.IdentityCommitment,
			CreatedAt:          c.Time, CreatedBy: c.Author, Position: c.Position,
		}
		if s.Email != "" {
			o.activeEmail[s.Email] = s.UserID
		}
	case DeviceAdded:
		o.devices[s.DeviceID] = &Device{
			ID: s.DeviceID, UserID: s.UserID, Label: s.Label, VerifyKey: s.VerifyKey, SealKey: s.SealKey,
			CreatedAt: c.Time, CreatedBy: c.Author, Position: c.Position,
		}
		o.deviceCount[s.UserID]++
	case UserRevoked:
		u := o.users[s.UserID]
		u.RevokedAt, u.RevokedBy, u.RevokedOn = c.Position, c.Author, c.Time
		if o.activeEmail[u.Email] == u.ID {
			delete(o.activeEmail, u.Email)
		}
	case ProfileChanged:
		o.users[s.UserID].Profile = s.Profile
	case DeviceRevoked:
		o.foldDeviceRevoked(c, s)
	case SharedRecoverySet:
		o.foldSharedRecovery(c, s)
	case UserKeysRotated:
		o.foldUserKeysRotated(c, s)
	default:
		o.foldVault(c, o.users[o.devices[c.Author].UserID])
	}
}

func (o *Organisation) broke(position uint64, format string, args ...any) error {
	return &RuleError{Position: position, Reason: fmt.Sprintf(format, args...)}
}

// Clone returns an independent copy, so that a batch can be checked
// without touching the state if it fails.
func (o *Organisation) Clone() *Organisation {
	c := *o
	// The users and devices are copied, not shared: a fold changes them
	// in place.
	c.users = cloneMap(o.users)
	for k, u := range c.users {
		cu := *u
		c.users[k] = &cu
	}
	c.devices = cloneMap(o.devices)
	for k, d := range c.devices {
		cd := *d
		c.devices[k] = &cd
	}
	c.vaults = cloneMap(o.vaults)
	for k, v := range c.vaults {
		c.vaults[k] = v.clone()
	}
	c.hashes = append([][]byte(nil), o.hashes...)
	c.activeEmail = cloneMap(o.activeEmail)
	c.deviceCount = cloneMap(o.deviceCount)
	c.exposedAt = cloneMap(o.exposedAt)
	c.sharedRecoveries = cloneMap(o.sharedRecoveries) // each replaced whole by the fold, never changed
	c.Head.Hash = append([]byte(nil), o.Head.Hash...)
	return &c
}

// cloneMap is maps.Clone, which copies a map's table as it is (inserting
// each key again hashes it and grows the table: a third of the server's
// check of a rotation in an organisation of 1,000 users was Clone), and
// never returns nil: the fold writes to the copy.
func cloneMap[M ~map[K]V, K comparable, V any](m M) M {
	if m == nil {
		return M{}
	}
	return maps.Clone(m)
}

// SignNext signs statements as consecutive entries after the current head,
// without applying them. The result goes to the server as one append.
func (o *Organisation) SignNext(key *crypto.SigningKey, author string, now time.Time, stmts ...Statement) ([][]byte, error) {
	if now.Before(o.lastTime) {
		now = o.lastTime // never sign a timestamp that goes back
	}
	var out [][]byte
	prev, pos := o.Head.Hash, o.Head.Position
	for _, s := range stmts {
		pos++
		data, err := Sign(key, Draft{
			OrganisationID: o.ID, Author: author, Time: now,
			Position: pos, PreviousHash: prev, Statement: s,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, data)
		if len(out) < len(stmts) { // the last one's hash is not needed: 1 MB for a large rotation
			prev = EntryHash(prev, data)
		}
	}
	return out, nil
}
