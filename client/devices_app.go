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
	return s.devicesOf(ctx, u.ID, online)
}
