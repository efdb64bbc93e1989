package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
)

// A user's devices: listing them and revoking one (SPEC.md §15). The
// errors of this file are here rather than in errors.go so that the device
// work merges apart from the rest.
var (
	// ErrUnknownDevice: no device of that id or label in the verified log
	// (among this user's devices, or anyone's for an administrator).
	ErrUnknownDevice = errors.New("no such device")
	// ErrAmbiguousDevice: a label names several devices; use the id.
	ErrAmbiguousDevice = errors.New("several devices have that label: use the device id")
	// ErrThisDevice: a device does not revoke itself (SPEC.md §15).
	ErrThisDevice = errors.New("a device can't revoke itself: revoke it from another of your devices, or ask an administrator")
	// ErrRevokedHere is returned once the verified organisation log
	// says this device (or its user) is revoked: checked on the
	// certificate, never on the server's word (SECURITY.md A42).
	ErrRevokedHere = errors.New("this device has been revoked")
)

// DeviceInfo is one device of a user as the verified log describes it.
type DeviceInfo struct {
	ID        string
	Label     string
	CreatedAt time.Time
	CreatedBy string // the enrolling device's user's email ("" for the root key)
	RevokedAt time.Time
	RevokedBy string
	Revoked   bool
	This      bool
	// NoSealKey: enrolled without a device seal key, it can't receive a
	// rotation of the user's keys (SPEC.md §15.2).
	NoSealKey bool
	// LastConnection is the newest connection the server recorded for the
	// device (zero if none, or the server could not say).
	LastConnection time.Time
	LastAddress    string
}

// Devices lists this user's devices, revoked ones included, oldest first.
// The last connection of each is asked of the server; offline, only the
// verified log answers.
func (s *Session) Devices(ctx context.Context, online bool) ([]DeviceInfo, error) {
	return s.devicesOf(ctx, s.keys.UserID, online)
}

// devicesOf lists the devices of the user userID (Devices, DevicesOf).
func (s *Session) devicesOf(ctx context.Context, userID string, online bool) ([]DeviceInfo, error) {
	var out []DeviceInfo
	for _, d := range s.org.Devices(userID) {
		info := DeviceInfo{ID: d.ID, Label: d.Label, CreatedAt: d.CreatedAt, CreatedBy: s.deviceOwnerEmail(d.CreatedBy),
			Revoked: d.Revoked(), This: d.ID == s.keys.DeviceID, NoSealKey: !d.HasSealKey()}
		if d.Revoked() {
			info.RevokedAt, info.RevokedBy = d.RevokedOn, s.deviceOwnerEmail(d.RevokedBy)
		}
		if online {
			resp, err := s.connections(ctx, d.ID, 1)
			if err != nil {
				return nil, err
			}
			if len(resp) > 0 {
				info.LastConnection, info.LastAddress = resp[0].Time, resp[0].Address
			}
		}
		out = append(out, info)
	}
	return out, nil
}

func (s *Session) deviceOwnerEmail(deviceID string) string {
	if d, ok := s.org.Device(deviceID); ok {
		if u, ok := s.org.User(d.UserID); ok {
			return u.Email
		}
	}
	return ""
}

// FindDevice resolves a device by id or label: among this user's devices,
// or, for an administrator, anyone's by id.
func (s *Session) FindDevice(ref string) (*certificate.Device, error) {
	if d, ok := s.org.Device(ref); ok && (d.UserID == s.keys.UserID || s.IsAdmin()) {
		return d, nil
	}
	var found *certificate.Device
	for _, d := range s.org.Devices(s.keys.UserID) {
		if strings.EqualFold(d.Label, ref) && !d.Revoked() {
			if found != nil {
				return nil, fmt.Errorf("%w: %q", ErrAmbiguousDevice, ref)
			}
			found = d
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownDevice, ref)
	}
	return found, nil
}

// DeviceRevocation is what RevokeDevice did.
type DeviceRevocation struct {
	Device *certificate.Device
	// Rotated are the vaults whose key this device rotated at once;
	// Pending, those it may not rotate (it does not manage them): their
	// managers' devices rotate them at their next use (PrepareVault).
	Rotated, Pending []VaultInfo
	// UserKeys is the rotation of the user's keys that ran first, when
	// the device was one of this user's (SPEC.md §15.2); UserKeysErr says
	// why it could not run (ErrNoSealKeyDevice), the vaults were rotated
	// anyway.
	UserKeys    *UserKeysRotation
	UserKeysErr error
}

// RevokeDevice revokes a device of this user, or, for an administrator,
// of anyone, then rotates the key of every vault the device's user is in
// that this user manages (SPEC.md §15).
func (s *Session) RevokeDevice(ctx context.Context, ref string) (DeviceRevocation, error) {
	var done DeviceRevocation
	err := s.publish(ctx, "", func() ([]certificate.Statement, error) {
		d, err := s.FindDevice(ref)
		if err != nil {
			return nil, err
		}
		switch {
		case d.ID == s.keys.DeviceID:
			return nil, ErrThisDevice
		case d.Revoked():
			return nil, fmt.Errorf("device %s (%s) is already revoked", d.ID, d.Label)
		}
		done.Device = d
		return []certificate.Statement{certificate.DeviceRevoked{DeviceID: d.ID}}, nil
	})
	if err != nil {
		return done, err
	}
	done.Device, _ = s.org.Device(done.Device.ID)
	// The user's keys first, then the vaults: a vault key counts only if
	// sealed after the user's newest key rotation (SPEC.md §15.2).
	if done.Device.UserID == s.keys.UserID {
		rot, err := s.RotateUserKeys(ctx)
		switch {
		case errors.Is(err, ErrNoSealKeyDevice):
			done.UserKeysErr = err
		case err != nil:
			return done, fmt.Errorf("rotating your user keys: %w", err)
		default:
			done.UserKeys = &rot
		}
	}
	done.Rotated, done.Pending, err = s.rotateExposed(ctx, done.Device.UserID)
	return done, err
}

// rotateExposed rotates the vaults of userID that need it and this user
// manages; it returns those rotated and those left to their managers.
func (s *Session) rotateExposed(ctx context.Context, userID string) (rotated, pending []VaultInfo, err error) {
	now := time.Now()
	for _, v := range s.org.Vaults() {
		if s.org.RoleOf(v, userID, now) == certificate.RoleNone || !s.org.NeedsRotation(v, now) || v.Archived {
			continue
		}
		if s.org.RoleOf(v, s.keys.UserID, now) == certificate.RoleNone {
			// An administrator who is not a member: no key, no name.
			pending = append(pending, VaultInfo{ID: v.ID, Name: v.ID})
			continue
		}
		info, err := s.vaultInfo(v, now)
		if err != nil {
			return rotated, pending, err
		}
		if !info.Role.CanManage() {
			pending = append(pending, info)
			continue
		}
		if err := s.rotate(ctx, v.ID, true); errors.Is(err, ErrAwaitingUserKeys) {
			pending = append(pending, info)
			continue
		} else if err != nil {
			return rotated, pending, fmt.Errorf("rotating the key of vault %s: %w", info.Name, err)
		}
		if err := s.checkpoint(ctx, v.ID); err != nil {
			return rotated, pending, err
		}
		v, _ = s.org.Vault(v.ID)
		info, _ = s.vaultInfo(v, time.Now())
		rotated = append(rotated, info)
	}
	return rotated, pending, nil
}
