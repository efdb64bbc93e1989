// Package client is coffre's client library: the device's keys and
// verified state, the connection to the server, and every operation of the
// command line. It trusts nothing the server says that it can't check from
// the organisation's root verify key (SPEC.md §4.3).
//
// A Session is one unlocked device. Its operations are grouped by concept,
// one file each:
//
//   - keyfile.go: the device key file; state.go: the encrypted local state;
//     conn.go: the connection to the server and its recorded connections;
//     unlocked.go: keys kept unlocked for a long-running process.
//   - orglog.go: the verified organisation log (Sync) and appending to it;
//     users.go: users and their administration; audit.go: the audit.
//   - bootstrap.go: the organisation's first device. Enrolment (SPEC.md
//     §5): invitations.go (invite, list, cancel, find), relay.go (one end
//     of the server's relay), enrolment.go (what both sides share),
//     greeter.go (Greet) and claimer.go (Claim), one function per step.
//   - vaults.go: listing and opening vaults, which only reads;
//     vaultadmin.go: creating, sharing, rotating, renaming, archiving, and
//     PrepareVault, the upkeep (a rotation, a checkpoint) that reading
//     never does; remote.go: the server as an opened vault sees it;
//     head.go: the server's signed heads that every write checks first;
//     blockcache.go: the local block cache.
//
// Errors are sentinels, in errors.go.
package client

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/link"
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
	ring  userKeyRing // user keys opened from the log (userkeys.go)
	// Folder pages the vault log brought, not yet used (remote.go).
	offered offeredPages
	// A vault log read sent ahead of the checkpoint (readahead.go).
	ahead readAheads
	// Waits for the entries of a rotation stored aside (adoptAppended).
	settling func() error

	// The connection recorded by Hello this session, and the one before.
	previous, current *Connection
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
	org, _, err := st.load(l.OrganisationID, l.Root)
	if err != nil {
		st.close()
		return nil, err
	}
	// A file without a snapshot of this version (written before
	// snapshots, or by another version), or with many entries beyond it:
	// write one now, so that the next open verifies no more than a few.
	if err := st.snapshotIfDue(org); err != nil {
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
	s.cache.close()
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
