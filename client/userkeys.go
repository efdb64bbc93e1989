package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
)

// Rotating the user's keys (SPEC.md §15.2). Every device enrolled now has
// its own seal key (keyfile.go); a rotation seals the user's new private
// key to each remaining device's seal key, and the user's devices take it
// from the log: nothing of it is written to the key file, whose passphrase
// a session does not hold, or to the state (the log keeps the sealings).

// ErrNoSealKeyDevice: none of the user's remaining devices has a seal key,
// so a rotation of the user's keys would leave every one of them without
// the new key (SPEC.md §15.2).
var ErrNoSealKeyDevice = errors.New("none of your remaining devices can receive new user keys (all were enrolled before device seal keys): enrol a new device, then revoke the old ones")

// ErrAwaitingUserKeys: a vault's new key would be sealed to a member whose
// keys a device revocation exposed and who has not received new ones yet
// (SPEC.md §15.2): it waits for that member's next session.
var ErrAwaitingUserKeys = errors.New("a member's keys are being replaced after one of their devices was revoked: the vault's new key waits until they open coffre on one of their other devices")

// errNotRotatedHere: this device did not receive the user's newest keys
// (it has no device seal key), so it can't hand them to a new device.
var errNotRotatedHere = errors.New("this device did not receive your newest user keys (it has no device seal key): do this from one of your devices that did")

// userKeyRing holds the user seal keys this session opened from the log's
// rotations, by the position of the rotation.
type userKeyRing struct {
	mu      sync.Mutex
	rotated map[uint64]*crypto.SealKey
}

// newDeviceSealKey makes a new device's own seal key.
func newDeviceSealKey() (*crypto.SealKey, error) { return crypto.GenerateSealKey() }

// sealKeyAt returns this device's private key for the user's seal key in
// force at position pos of org (User.SealKeyAt): a sealing placed after a
// rotation opens with the rotated key only. Nil if this device lacks it.
func (s *Session) sealKeyAt(org *certificate.Organisation, pos uint64) *crypto.SealKey {
	u, ok := org.User(s.keys.UserID)
	if !ok {
		return s.keys.SealKey
	}
	return s.privateFor(org, u, u.SealKeyAt(pos))
}

// currentSealKey is this device's private key for the user's newest seal
// key, nil if the device could not receive it.
func (s *Session) currentSealKey() *crypto.SealKey {
	u, ok := s.org.User(s.keys.UserID)
	if !ok {
		return s.keys.SealKey
	}
	return s.privateFor(s.org, u, u.SealKey)
}

// privateFor finds the private key of pub among the key file's keys and
// the rotations of the log sealed to this device.
func (s *Session) privateFor(org *certificate.Organisation, u *certificate.User, pub crypto.SealPublicKey) *crypto.SealKey {
	if s.keys.SealKey.Public().Equal(pub) {
		return s.keys.SealKey
	}
	for _, h := range s.keys.SealKeyHistory {
		if h.Key.Public().Equal(pub) {
			return h.Key
		}
	}
	for i, r := range u.Rotations {
		if !u.RotatedKey(i).Equal(pub) {
			continue
		}
		if k := s.openRotation(org, u, i, r); k != nil {
			return k
		}
	}
	return nil
}

// openRotation opens rotation i's sealing to this device with its device
// seal key and checks it is the key the rotation published.
func (s *Session) openRotation(org *certificate.Organisation, u *certificate.User, i int, r certificate.SealKeyRotation) *crypto.SealKey {
	s.ring.mu.Lock()
	defer s.ring.mu.Unlock()
	if k, ok := s.ring.rotated[r.Position]; ok {
		return k
	}
	if s.keys.DeviceSealKey == nil {
		return nil
	}
	for _, e := range r.Sealed {
		if e.DeviceID != s.keys.DeviceID {
			continue
		}
		raw, err := s.keys.DeviceSealKey.Open(certificate.UserKeySealContext, certificate.UserKeyAAD(org.ID, u.ID, r.Position), e.Sealed)
		if err != nil {
			return nil
		}
		k, err := crypto.ParseSealKey(raw)
		clear(raw)
		if err != nil || !k.Public().Equal(u.RotatedKey(i)) {
			return nil
		}
		if s.ring.rotated == nil {
			s.ring.rotated = map[uint64]*crypto.SealKey{}
		}
		s.ring.rotated[r.Position] = k
		return k
	}
	return nil
}

// openKeys opens a vault's keys for this user with the user key in force
// where the newest key sealed to them lies (SPEC.md §15.2 step 3).
func (s *Session) openKeys(org *certificate.Organisation, v *certificate.Vault) (*workspace.Keys, error) {
	key := s.keys.SealKey
	if pos, ok := org.NewestSealingPosition(v, s.keys.UserID); ok {
		if key = s.sealKeyAt(org, pos); key == nil {
			return nil, fmt.Errorf("%w: it is sealed to a user key this device does not hold (replaced before it was enrolled, or it has no device seal key): the vault's next key rotation reaches it, or enrol a new device", workspace.ErrNoKey)
		}
	}
	return workspace.OpenKeys(org, v, s.keys.UserID, key)
}

// UserKeysRotation is what RotateUserKeys did.
type UserKeysRotation struct {
	Position uint64
	// Stranded are the user's active devices that could not receive the
	// new key (enrolled without a seal key): they must be re-enrolled.
	Stranded []*certificate.Device
}

// RotateUserKeys replaces this user's seal key by a new one sealed to
// each of their active devices that has a seal key (SPEC.md §15.2). It
// refuses with ErrNoSealKeyDevice when none has one.
func (s *Session) RotateUserKeys(ctx context.Context) (UserKeysRotation, error) {
	var done UserKeysRotation
	err := s.publish(ctx, "", func() ([]certificate.Statement, error) {
		reach, stranded := s.org.RotationTarget(s.keys.UserID)
		if len(reach) == 0 {
			return nil, ErrNoSealKeyDevice
		}
		done.Stranded = stranded
		next, err := crypto.GenerateSealKey()
		if err != nil {
			return nil, err
		}
		pos := s.org.Head.Position + 1
		st := certificate.UserKeysRotated{UserID: s.keys.UserID, SealKey: next.Public()}
		for _, d := range reach {
			sealed, err := crypto.SealTo(d.SealKey, certificate.UserKeySealContext, certificate.UserKeyAAD(s.org.ID, s.keys.UserID, pos), next.Bytes())
			if err != nil {
				return nil, err
			}
			st.Sealed = append(st.Sealed, certificate.DeviceSealedKey{DeviceID: d.ID, Sealed: sealed})
		}
		return []certificate.Statement{st}, nil
	})
	if err != nil {
		return done, err
	}
	if u, ok := s.Me(); ok {
		done.Position = u.KeysRotatedAt()
	}
	return done, nil
}

// UserKeysExposed reports whether one of this user's devices was revoked
// after their newest key rotation: the user's keys need rotating before
// the vaults (SPEC.md §15.2 step 4).
func (s *Session) UserKeysExposed() bool {
	u, ok := s.Me()
	return ok && s.org.KeysExposedAt(u.ID) > u.KeysRotatedAt()
}

// rotateOwnKeysIfExposed rotates this user's keys when a device of theirs
// was revoked since their newest rotation (by an administrator, or by a
// device that could not rotate them). With no device able to receive them
// it does nothing: the keys stay as they were until one is enrolled.
func (s *Session) rotateOwnKeysIfExposed(ctx context.Context) error {
	if !s.UserKeysExposed() {
		return nil
	}
	if reach, _ := s.org.RotationTarget(s.keys.UserID); len(reach) == 0 {
		return nil
	}
	if _, err := s.RotateUserKeys(ctx); err != nil {
		return fmt.Errorf("rotating your user keys: %w", err)
	}
	return nil
}

// sealKeyHistory lists the user's replaced seal keys this device holds,
// each with the position of the rotation that replaced it, for a device
// it enrols that can't take them from the log (a recovery device).
func (s *Session) sealKeyHistory() []pastSealKey {
	u, ok := s.Me()
	if !ok {
		return nil
	}
	var out []pastSealKey
	for _, r := range u.Rotations {
		if k := s.privateFor(s.org, u, r.Previous); k != nil {
			out = append(out, pastSealKey{Key: k, ReplacedAt: r.Position})
		}
	}
	return out
}
