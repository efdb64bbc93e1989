// Package client is coffre's client library: the device's keys and
// verified state, the connection to the server, and every operation of the
// command line. It trusts nothing the server says that it can't check from
// the organisation's root verify key (SPEC.md §4.3).
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Session is an unlocked device: its keys, its verified view of the
// organisation, and a connection to the server.
type Session struct {
	dir   string
	keys  *deviceKeys
	link  link.Link
	state *localState
	org   *certificate.Organisation
	conn  *conn
	cache *blockCache

	// The connection recorded by Hello this session, and the one before.
	previous, current *Connection
}

func keyFilePath(dir string) string { return filepath.Join(dir, "device.age") }
func statePath(dir string) string   { return filepath.Join(dir, "state.db") }

// HasDevice reports whether dir holds a device.
func HasDevice(dir string) bool {
	_, err := os.Stat(keyFilePath(dir))
	return err == nil
}

// Open unlocks the device in dir with the passphrase and loads its verified
// state. It does not contact the server.
func Open(ctx context.Context, dir string, passphrase []byte) (*Session, error) {
	keys, err := readKeyFile(keyFilePath(dir), passphrase)
	if err != nil {
		return nil, err
	}
	return openWithKeys(dir, keys)
}

func openWithKeys(dir string, keys *deviceKeys) (*Session, error) {
	l := keys.link()
	st, err := openState(statePath(dir), keys.StateKey)
	if err != nil {
		return nil, err
	}
	org := certificate.NewOrganisation(l.OrganisationID, l.Root)
	if err := st.load(org); err != nil {
		st.close()
		return nil, err
	}
	c, err := dial(l, &signer{orgID: l.OrganisationID, deviceID: keys.DeviceID, key: keys.SigningKey})
	if err != nil {
		st.close()
		return nil, err
	}
	cacheLimit, _, err := BlockCacheBytes(dir)
	if err != nil {
		st.close()
		c.close()
		return nil, err
	}
	cache := newBlockCache(filepath.Join(dir, "cache", "blocks"), keys.StateKey, cacheLimit)
	return &Session{dir: dir, keys: keys, link: l, state: st, org: org, conn: c, cache: cache}, nil
}

// Close releases the state file and the connection.
func (s *Session) Close() error {
	return errors.Join(s.conn.close(), s.state.close())
}

// Identity describes this device.
type Identity struct {
	OrganisationID   string
	OrganisationName string
	OrganisationLink string // without secrets: what new members' links are made from
	Server           string
	UserID           string
	DeviceID         string
	DeviceLabel      string
}

// Identity returns who this device is.
func (s *Session) Identity() Identity {
	return Identity{
		OrganisationID: s.link.OrganisationID, OrganisationName: s.keys.OrganisationName,
		OrganisationLink: s.link.String(), Server: s.link.Address,
		UserID: s.keys.UserID, DeviceID: s.keys.DeviceID, DeviceLabel: s.keys.DeviceLabel,
	}
}

// SyncKey returns the key of this device's sync journals and status files
// (SPEC.md §12).
func (s *Session) SyncKey() crypto.SecretKey { return syncKey(s.keys) }

// Head returns the verified log head.
func (s *Session) Head() certificate.Head { return s.org.Head }

// Organisation returns the verified organisation state (do not modify).
func (s *Session) Organisation() *certificate.Organisation { return s.org }

// Me returns this device's user as the verified log describes them.
func (s *Session) Me() (*certificate.User, bool) { return s.org.User(s.keys.UserID) }

// Sync fetches the log entries after the verified head, verifies each from
// the root key and the rules, and only then stores them with the new head.
// A log shorter than the verified head is a rollback; entries that don't
// extend it are a fork. Either way nothing is stored (SECURITY.md A13, A14).
func (s *Session) Sync(ctx context.Context) error {
	for {
		mine := s.org.Head.Position
		resp, err := s.conn.api.GetLog(ctx, &coffrev1.GetLogRequest{From: max(mine, 1)})
		if err != nil {
			return fromServer(s.conn.address, err)
		}
		if resp.GetHeadPosition() < mine {
			return fmt.Errorf("%w: the server's log ends at %d, this device verified up to %d", certificate.ErrRollback, resp.GetHeadPosition(), mine)
		}
		entries := resp.GetEntries()
		// The entry at the verified head comes first: another one there is
		// a fork, even of equal length (SECURITY.md A31).
		if mine > 0 {
			if len(entries) == 0 || entries[0].GetPosition() != mine {
				return fmt.Errorf("%w: the server does not send the entry at the verified head %d", ErrBadLog, mine)
			}
			prev, _ := s.org.HashAt(mine - 1)
			if !bytes.Equal(certificate.EntryHash(prev, entries[0].GetData()), s.org.Head.Hash) {
				return fmt.Errorf("%w: the server's entry %d is not the one this device verified", certificate.ErrFork, mine)
			}
			entries = entries[1:]
		}
		if len(entries) == 0 {
			if resp.GetHeadPosition() > mine {
				return fmt.Errorf("%w: the server claims entries up to %d but sends none", ErrBadLog, resp.GetHeadPosition())
			}
			return nil
		}
		next := s.org.Clone()
		var verified []verifiedEntry
		for _, e := range entries {
			if _, err := next.Apply(e.GetPosition(), e.GetData()); err != nil {
				if errors.Is(err, certificate.ErrChain) {
					return fmt.Errorf("%w: %w", certificate.ErrFork, err)
				}
				return fmt.Errorf("%w: %w", ErrBadLog, err)
			}
			verified = append(verified, verifiedEntry{position: e.GetPosition(), data: e.GetData()})
		}
		if err := s.state.save(verified, next.Head); err != nil {
			return err
		}
		s.org = next
		if s.org.Head.Position >= resp.GetHeadPosition() {
			return nil
		}
	}
}

// Connection is one recorded connection of a device.
type Connection struct {
	DeviceID string
	Time     time.Time
	Address  string
}

func connectionFromWire(c *coffrev1.Connection) Connection {
	if c == nil {
		return Connection{}
	}
	return Connection{DeviceID: c.GetDeviceId(), Time: time.UnixMilli(c.GetTimeMs()), Address: c.GetAddress()}
}

// Hello records this connection with the server and returns the previous
// one of this device (zero if none), as CNIL asks medical applications to
// show at login.
// Hello is called once per session; later calls return the same answer.
func (s *Session) Hello(ctx context.Context) (previous, current Connection, err error) {
	if s.current != nil {
		return *s.previous, *s.current, nil
	}
	resp, err := s.conn.api.Hello(ctx, &coffrev1.HelloRequest{})
	if err != nil {
		return Connection{}, Connection{}, fromServer(s.conn.address, err)
	}
	prev, cur := connectionFromWire(resp.GetPrevious()), connectionFromWire(resp.GetCurrent())
	s.previous, s.current = &prev, &cur
	return prev, cur, nil
}

// Connections lists recorded connections: this device's, or with all set
// (admins only), every device's.
func (s *Session) Connections(ctx context.Context, all bool, limit int) ([]Connection, error) {
	dev := s.keys.DeviceID
	if all {
		dev = ""
	}
	resp, err := s.conn.api.ListConnections(ctx, &coffrev1.ListConnectionsRequest{DeviceId: dev, Limit: uint32(limit)})
	if err != nil {
		return nil, fromServer(s.conn.address, err)
	}
	var out []Connection
	for _, c := range resp.GetConnections() {
		out = append(out, connectionFromWire(c))
	}
	return out, nil
}

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

// publish signs statements at the verified head and appends them, reading
// the log again and re-signing when someone else appended first.
func (s *Session) publish(ctx context.Context, invitationID string, stmts func() ([]certificate.Statement, error)) error {
	for attempt := 0; ; attempt++ {
		if err := s.Sync(ctx); err != nil {
			return err
		}
		list, err := stmts()
		if err != nil {
			return err
		}
		certs, err := s.org.SignNext(s.keys.SigningKey, s.keys.DeviceID, time.Now(), list...)
		if err != nil {
			return err
		}
		// Check the rules here first: the person gets the rule they broke,
		// not only the server's "certificate refused".
		probe := s.org.Clone()
		for _, c := range certs {
			var rule *certificate.RuleError
			if _, err := probe.Apply(probe.Head.Position+1, c); errors.As(err, &rule) {
				return fmt.Errorf("%w: %s", ErrNotAllowed, rule.Reason)
			} else if err != nil {
				return err
			}
		}
		signedAt := s.org.Head.Position
		_, err = s.conn.api.AppendCertificates(ctx, &coffrev1.AppendCertificatesRequest{Certificates: certs, InvitationId: invitationID})
		err = fromServer(s.conn.address, err)
		if errors.Is(err, certificate.ErrConflict) && attempt < 5 {
			if err := s.Sync(ctx); err != nil {
				return err
			}
			// Refused at head + 1 while showing the same head: the
			// server holds another branch (SECURITY.md A31).
			if s.org.Head.Position == signedAt {
				return fmt.Errorf("%w: the server refuses position %d after the head %d it shows", certificate.ErrFork, signedAt+1, signedAt)
			}
			continue
		}
		if err != nil {
			return err
		}
		return s.Sync(ctx)
	}
}

// Revoke revokes a user and all of their devices.
func (s *Session) Revoke(ctx context.Context, ref string) (*certificate.User, error) {
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
			return nil, fmt.Errorf("user %s (%s) is already revoked", u.ID, u.Email)
		}
		if u.ID == s.keys.UserID {
			return nil, errors.New("you can't revoke yourself: ask another administrator")
		}
		target = u
		return []certificate.Statement{certificate.UserRevoked{UserID: u.ID}}, nil
	})
	return target, err
}

// SetProfile changes a user's profile.
func (s *Session) SetProfile(ctx context.Context, ref string, p certificate.Profile) (*certificate.User, error) {
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
			return nil, fmt.Errorf("user %s (%s) is revoked", u.ID, u.Email)
		}
		if u.ID == s.keys.UserID {
			return nil, errors.New("you can't change your own profile: ask another administrator")
		}
		target = u
		return []certificate.Statement{certificate.ProfileChanged{UserID: u.ID, Profile: p}}, nil
	})
	return target, err
}
