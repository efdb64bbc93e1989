package certificate

import "time"

// Device revocation (SPEC.md §15): one device of a user is revoked, the
// user and their other devices stay.

// DeviceRevoked revokes one device: nothing it signs from this position on
// is accepted, by the clients or by the server.
type DeviceRevoked struct {
	DeviceID string
}

func (DeviceRevoked) isStatement() {}

// Revoked reports whether the device itself was revoked (its user's
// revocation is on the User).
func (d *Device) Revoked() bool { return d.RevokedAt != 0 }

// RevokedBefore reports whether the device was revoked by a certificate at
// or before position pos, or dated at or before t: an entry it signs
// claiming an older position but dated after its revocation is refused
// like one claiming a later position (SPEC.md §15, SECURITY.md A41).
func (d *Device) RevokedBefore(pos uint64, t time.Time) bool {
	return d.Revoked() && (d.RevokedAt <= pos || !d.RevokedOn.After(t))
}

// ActiveDevices returns a user's devices that are not revoked, by position.
func (o *Organisation) ActiveDevices(userID string) []*Device {
	var out []*Device
	for _, d := range o.Devices(userID) {
		if !d.Revoked() {
			out = append(out, d)
		}
	}
	return out
}

// KeysExposedAt returns the position of the newest revocation of one of
// the user's devices, 0 if none: every vault key sealed to the user before
// it is held by the revoked device's copy of the user's keys.
func (o *Organisation) KeysExposedAt(userID string) uint64 { return o.exposedAt[userID] }

// checkDeviceRevoked applies the rules of SPEC.md §3.3 for DeviceRevoked:
// an admin, or another active device of the same user, revokes a device
// that exists and is not revoked already; never the signing device itself.
func (o *Organisation) checkDeviceRevoked(c *Certificate, s DeviceRevoked, author *User) error {
	p := c.Position
	if p <= 2 || author == nil {
		return o.broke(p, "device revocation at a bootstrap position")
	}
	target, ok := o.devices[s.DeviceID]
	switch {
	case !ok:
		return o.broke(p, "revocation of unknown device %q", s.DeviceID)
	case target.Revoked():
		return o.broke(p, "device %q is already revoked", s.DeviceID)
	case o.users[target.UserID].Revoked():
		return o.broke(p, "device %q belongs to revoked user %q", s.DeviceID, target.UserID)
	case target.ID == c.Author:
		return o.broke(p, "a device may not revoke itself: revoke it from another device")
	case target.UserID != author.ID && author.Profile != ProfileAdmin:
		return o.broke(p, "only the device's user or an admin may revoke device %q", s.DeviceID)
	}
	return nil
}

func (o *Organisation) foldDeviceRevoked(c *Certificate, s DeviceRevoked) {
	d := o.devices[s.DeviceID]
	d.RevokedAt, d.RevokedBy, d.RevokedOn = c.Position, c.Author, c.Time
	o.exposedAt[d.UserID] = c.Position
}
