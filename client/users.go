package client

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffre/coffre/certificate"
)

// Users as the verified log describes them, and their administration:
// revocation and profiles.

// IsAdmin reports whether this device's user is an administrator in the
// verified log: what the client checks before an administrator's command.
func (s *Session) IsAdmin() bool {
	me, ok := s.Me()
	return ok && me.Profile == certificate.ProfileAdmin
}

// requireAdmin refuses, on the client side already, what only an admin may do.
func (s *Session) requireAdmin() error {
	if !s.IsAdmin() {
		return ErrNotAdmin
	}
	return nil
}

// FindUser resolves a user by id or email among the verified users.
func (s *Session) FindUser(ref string) (*certificate.User, error) {
	if u, ok := s.org.User(ref); ok {
		return u, nil
	}
	var found *certificate.User
	for _, u := range s.org.Users() {
		if strings.EqualFold(u.Email, ref) {
			if found == nil || (found.Revoked() && !u.Revoked()) {
				found = u
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, ref)
	}
	return found, nil
}

// Revoke revokes a user and all of their devices.
func (s *Session) Revoke(ctx context.Context, ref string) (*certificate.User, error) {
	return s.changeUser(ctx, ref, "is already revoked", "you can't revoke yourself: ask another administrator",
		func(u *certificate.User) certificate.Statement { return certificate.UserRevoked{UserID: u.ID} })
}

// SetProfile changes a user's profile.
func (s *Session) SetProfile(ctx context.Context, ref string, p certificate.Profile) (*certificate.User, error) {
	return s.changeUser(ctx, ref, "is revoked", "you can't change your own profile: ask another administrator",
		func(u *certificate.User) certificate.Statement {
			return certificate.ProfileChanged{UserID: u.ID, Profile: p}
		})
}

// changeUser publishes an administrator's change to another user who is
// not revoked, resolved again at each attempt; revoked and self are the
// refusals' words.
func (s *Session) changeUser(ctx context.Context, ref, revoked, self string, change func(*certificate.User) certificate.Statement) (*certificate.User, error) {
	if err := s.requireAdmin(); err != nil {
		return nil, err
	}
	var target *certificate.User
	err := s.publish(ctx, "", func() ([]certificate.Statement, error) {
		u, err := s.FindUser(ref)
		if err != nil {
			return nil, err
		}
		if u.Revoked() {
			return nil, refuse(ErrUserRevoked, "user %s (%s) %s", u.ID, u.Email, revoked)
		}
		if u.ID == s.keys.UserID {
			return nil, refuse(ErrSelf, "%s", self)
		}
		target = u
		return []certificate.Statement{change(u)}, nil
	})
	return target, err
}
