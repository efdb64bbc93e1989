package client

import "context"

// DevicesOf lists the devices of the user that ref names (id or email),
// as Devices does for this user's own: an administrator may list anyone's
// (SPEC.md §15.1: ListConnections answers an admin for any device).
// Anyone else gets ErrNotAdmin for another user's.
func (s *Session) DevicesOf(ctx context.Context, ref string, online bool) ([]DeviceInfo, error) {
	u, err := s.FindUser(ref)
	if err != nil {
		return nil, err
	}
	if u.ID == s.keys.UserID {
		return s.Devices(ctx, online)
	}
	if err := s.requireAdmin(); err != nil {
		return nil, err
	}
	var out []DeviceInfo
	for _, d := range s.org.Devices(u.ID) {
		info := DeviceInfo{ID: d.ID, Label: d.Label, CreatedAt: d.CreatedAt, CreatedBy: s.deviceOwnerEmail(d.CreatedBy),
			Revoked: d.Revoked(), NoSealKey: !d.HasSealKey()}
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
