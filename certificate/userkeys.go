package certificate

import (
	"fmt"
	"slices"
	"time"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Rotating a user's keys (SPEC.md §15.2): after one of their devices is
// revoked, the user's seal key is replaced by one sealed only to the
// remaining devices' own seal keys, so that nothing sealed to the user
// afterwards opens with the revoked device's copy.

// UserKeySealContext is the sealing context of a rotated user private key
// sealed to a device's seal key (SPEC.md §2.3, §15.2).
const UserKeySealContext = "user-key"

// UserKeysRotated replaces a user's seal public key from its position on.
type UserKeysRotated struct {
	UserID  string
	SealKey crypto.SealPublicKey
	// Sealed is the new private key sealed to each of the user's active
	// devices that has a seal key (UserKeyAAD), in any order.
	Sealed []DeviceSealedKey
}

func (UserKeysRotated) isStatement() {}

// DeviceSealedKey is a user's new private seal key sealed to one device.
type DeviceSealedKey struct {
	DeviceID string
	Sealed   []byte
}

// SealKeyRotation is one rotation of a user's keys as the log folds it.
type SealKeyRotation struct {
	Position uint64
	Time     time.Time
	// Previous is the public key it replaced, in force before Position.
	Previous crypto.SealPublicKey
	Sealed   []DeviceSealedKey
}

// UserKeyAAD binds a rotated user key's sealing to its organisation, user
// and log position (SPEC.md §15.2): it can't be moved to another rotation.
func UserKeyAAD(orgID, userID string, position uint64) []byte {
	d := crypto.LabeledSum("user-key-aad", []byte(orgID), []byte(userID), fmt.Appendf(nil, "%d", position))
	return d[:]
}

// HasSealKey reports whether the device published its own seal key at
// enrolment (devices enrolled before SPEC.md §15.2 did not).
func (d *Device) HasSealKey() bool { return !d.SealKey.Equal(crypto.SealPublicKey{}) }

// KeysRotatedAt is the position of the user's newest key rotation, 0 if none.
func (u *User) KeysRotatedAt() uint64 {
	if len(u.Rotations) == 0 {
		return 0
	}
	return u.Rotations[len(u.Rotations)-1].Position
}

// AwaitsUserKeys reports whether a device revocation exposed the user's
// keys after their newest rotation while one of their active devices could
// receive a rotation: a vault key sealed to the user now would open with
// the revoked device's copy, so it waits for the user's rotation (SPEC.md
// §15.2). With no device able to receive one, nothing better can come.
func (o *Organisation) AwaitsUserKeys(userID string) bool {
	u := o.users[userID]
	if u == nil || u.Revoked() || o.exposedAt[userID] <= u.KeysRotatedAt() {
		return false
	}
	for _, d := range o.devices {
		if d.UserID == userID && !d.Revoked() && d.HasSealKey() {
			return true
		}
	}
	return false
}

// SealKeyAt returns the user's seal public key in force for a sealing at
// position pos: the one a rotation after pos replaced, or the current one.
func (u *User) SealKeyAt(pos uint64) crypto.SealPublicKey {
	for _, r := range u.Rotations {
		if r.Position > pos {
			return r.Previous
		}
	}
	return u.SealKey
}

// RotatedKey returns the public key rotation i introduced.
func (u *User) RotatedKey(i int) crypto.SealPublicKey {
	if i+1 < len(u.Rotations) {
		return u.Rotations[i+1].Previous
	}
	return u.SealKey
}

// RotationTarget returns the active devices of a user that a rotation of
// their keys must be sealed to (those with a seal key), and those it can't
// reach (active, but enrolled without a seal key).
func (o *Organisation) RotationTarget(userID string) (reach, stranded []*Device) {
	for _, d := range o.ActiveDevices(userID) {
		if d.HasSealKey() {
			reach = append(reach, d)
		} else {
			stranded = append(stranded, d)
		}
	}
	return reach, stranded
}

// NewestSealingPosition returns the position of the sealing of a vault
// key to userID that workspace.OpenKeys opens (the newest index, a grant's
// sealing winning a tie with a bundle's), and false if none: the user's
// devices open it with the user key in force there (User.SealKeyAt).
func (o *Organisation) NewestSealingPosition(v *Vault, userID string) (uint64, bool) {
	var index uint32
	var pos uint64
	found := false
	for _, b := range v.Keys {
		for _, s := range b.Sealed {
			if s.UserID == userID && (!found || b.Index >= index) {
				index, pos, found = b.Index, b.Position, true
			}
		}
	}
	for _, e := range v.history {
		if e.grant.UserID == userID && e.key != nil && (!found || e.key.Index >= index) {
			index, pos, found = e.key.Index, e.position, true
		}
	}
	return pos, found
}

func userKeysRotatedFromWire(s *coffrev1.UserKeysRotatedStatement) (Statement, error) {
	key, err := crypto.ParseSealPublicKey(s.GetSealPublicKey())
	if err != nil {
		return nil, fmt.Errorf("%w: rotated user seal key: %v", ErrMalformed, err)
	}
	st := UserKeysRotated{UserID: s.GetUserId(), SealKey: key}
	for _, d := range s.GetSealed() {
		st.Sealed = append(st.Sealed, DeviceSealedKey{DeviceID: d.GetDeviceId(), Sealed: d.GetSealed()})
	}
	return st, nil
}

func userKeysRotatedToWire(s UserKeysRotated) *coffrev1.Certificate_UserKeysRotated {
	w := &coffrev1.UserKeysRotatedStatement{UserId: s.UserID, SealPublicKey: s.SealKey.Bytes()}
	for _, d := range s.Sealed {
		w.Sealed = append(w.Sealed, &coffrev1.DeviceSealedKey{DeviceId: d.DeviceID, Sealed: d.Sealed})
	}
	return &coffrev1.Certificate_UserKeysRotated{UserKeysRotated: w}
}

// checkUserKeysRotated applies the rules of SPEC.md §15.2 step 2.
func (o *Organisation) checkUserKeysRotated(c *Certificate, s UserKeysRotated, author *User) error {
	p := c.Position
	if p <= 2 || author == nil {
		return o.broke(p, "user key rotation at a bootstrap position")
	}
	target, ok := o.users[s.UserID]
	switch {
	case !ok:
		return o.broke(p, "key rotation of unknown user %q", s.UserID)
	case target.Revoked():
		return o.broke(p, "key rotation of revoked user %q", s.UserID)
	case author.ID != target.ID:
		// An admin can't: it would have made the user's private key.
		return o.broke(p, "only one of user %q's own devices may rotate their keys", s.UserID)
	case target.SealKey.Equal(s.SealKey):
		return o.broke(p, "the rotated key of user %q is their current key", s.UserID)
	}
	for _, r := range target.Rotations {
		if r.Previous.Equal(s.SealKey) {
			return o.broke(p, "the rotated key of user %q is one they used before", s.UserID)
		}
	}
	reach, _ := o.RotationTarget(s.UserID)
	if len(reach) == 0 {
		return o.broke(p, "no active device of user %q has a seal key to receive the rotation", s.UserID)
	}
	seen := map[string]bool{}
	for _, e := range s.Sealed {
		d, ok := o.devices[e.DeviceID]
		switch {
		case !ok || d.UserID != s.UserID:
			return o.broke(p, "key rotation sealed to device %q, not one of user %q's", e.DeviceID, s.UserID)
		case d.Revoked():
			return o.broke(p, "key rotation sealed to revoked device %q", e.DeviceID)
		case !d.HasSealKey():
			return o.broke(p, "key rotation sealed to device %q, which has no seal key", e.DeviceID)
		case seen[e.DeviceID]:
			return o.broke(p, "key rotation sealed twice to device %q", e.DeviceID)
		case len(e.Sealed) == 0:
			return o.broke(p, "key rotation with an empty sealing for device %q", e.DeviceID)
		}
		seen[e.DeviceID] = true
	}
	if len(seen) != len(reach) {
		return o.broke(p, "key rotation of user %q not sealed to each of their %d active devices with a seal key", s.UserID, len(reach))
	}
	return nil
}

func (o *Organisation) foldUserKeysRotated(c *Certificate, s UserKeysRotated) {
	u := o.users[s.UserID]
	u.Rotations = append(slices.Clip(u.Rotations), SealKeyRotation{Position: c.Position, Time: c.Time, Previous: u.SealKey, Sealed: s.Sealed})
	u.SealKey = s.SealKey
}
