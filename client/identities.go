package client

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Identity openings (SPEC.md §17): a log entry may carry, beside the signed
// certificate, the opening of its user's identity commitment. The server may
// withhold an opening (from outsiders), never forge one: each is checked
// against the commitment the certificate signed (SECURITY.md A68).

// splitIdentities returns the certificate bytes of each entry (what the
// chain hash covers) and the identity openings, by user id. An opening that
// does not match its commitment, or that comes with anything but a
// committed user's certificate, fails the whole page.
func splitIdentities(orgID string, entries []*coffrev1.LogEntry) ([][]byte, map[string][]byte, error) {
	certs := make([][]byte, len(entries))
	var openings map[string][]byte
	for i, e := range entries {
		cert, opening, err := certificate.SplitIdentity(e.GetData())
		if err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d: %w", ErrBadLog, e.GetPosition(), err)
		}
		certs[i] = cert
		if opening == nil {
			continue
		}
		c, err := certificate.Parse(cert)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d: %w", ErrBadLog, e.GetPosition(), err)
		}
		u, ok := c.Statement.(certificate.UserCreated)
		if !ok {
			return nil, nil, fmt.Errorf("%w: entry %d carries an identity but creates no user: %w", ErrBadLog, e.GetPosition(), certificate.ErrIdentity)
		}
		if _, err := certificate.OpenIdentity(orgID, u.UserID, u.IdentityCommitment, opening); err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d: %w", ErrBadLog, e.GetPosition(), err)
		}
		if openings == nil {
			openings = map[string][]byte{}
		}
		openings[u.UserID] = opening
	}
	return certs, openings, nil
}

// showIdentities writes the opened names and emails into the verified
// state, each checked again against the commitment the verified log holds
// for its user (an opening of a user the log doesn't commit fails). Then
// every email that just became known (those opened, and those of users the
// log created after position since) must not be another active user's
// (certificate.CheckEmails, SECURITY.md A70): checked at each new opening
// against every one this device holds, the duplicate is found whichever
// of the two openings comes first.
func showIdentities(org *certificate.Organisation, openings map[string][]byte, since uint64) error {
	opened := make([]string, 0, len(openings))
	for id, opening := range openings {
		opened = append(opened, id)
		u, ok := org.User(id)
		if !ok {
			return fmt.Errorf("user %s: %w", id, certificate.ErrIdentity)
		}
		ident, err := certificate.OpenIdentity(org.ID, id, u.IdentityCommitment, opening)
		if err != nil {
			return err
		}
		u.Name, u.Email = ident.Name, ident.Email
	}
	return org.CheckEmails(since, opened)
}

// maxIdentityFetches bounds the openings one Sync asks for again: a server
// that withholds them costs each Sync that many small requests, no more.
const maxIdentityFetches = 32

// fetchIdentities asks for the openings this device should have received
// but has not (certificate.IdentityVisible): an outsider's co-members
// created before it shared a vault with them, or openings a server
// withheld. Each comes with its user's entry again; the opening must open
// the commitment of the verified log, else the log is refused (A68). An
// opening still withheld leaves its user unknown, shown by id.
func (s *Session) fetchIdentities(ctx context.Context) error {
	me, _ := s.Me()
	visible := s.org.IdentityVisible(me)
	var got map[string][]byte
	asked := 0
	for _, u := range s.org.Users() {
		if !u.Unknown() || !visible(u.ID) || asked == maxIdentityFetches {
			continue
		}
		asked++
		resp, err := s.conn.api.GetLog(ctx, &coffrev1.GetLogRequest{From: u.Position, Limit: 1})
		if err != nil {
			return fromServer(s.conn.address, err)
		}
		es := resp.GetEntries()
		if len(es) == 0 || es[0].GetPosition() != u.Position {
			return fmt.Errorf("%w: the server does not send the entry at %d", ErrBadLog, u.Position)
		}
		_, openings, err := splitIdentities(s.org.ID, es[:1])
		if err != nil {
			return err
		}
		if opening, ok := openings[u.ID]; ok {
			if got == nil {
				got = map[string][]byte{}
			}
			got[u.ID] = opening
		} else if len(openings) > 0 {
			return fmt.Errorf("%w: the server's entry %d is not the one this device verified", certificate.ErrFork, u.Position)
		}
	}
	if got == nil {
		return nil
	}
	next := s.org.Clone()
	if err := showIdentities(next, got, next.Head.Position); err != nil {
		return fmt.Errorf("%w: %w", ErrBadLog, err)
	}
	if err := s.state.saveIdentities(got); err != nil {
		return err
	}
	s.org = next
	return nil
}

// Stored openings: in the meta bucket, one per user, sealed under the
// state key and bound to the user's id; a state loaded from the stored
// log opens them again (SPEC.md §17).

func identityKey(userID string) []byte { return []byte("identity/" + userID) }

func (s *localState) identityAAD(userID string) []byte {
	return append(s.aad("identity", 0), userID...)
}

// putIdentities stores openings in tx.
func (s *localState) putIdentities(tx *bolt.Tx, openings map[string][]byte) error {
	meta := tx.Bucket(bucketMeta)
	for id, opening := range openings {
		if err := meta.Put(identityKey(id), s.key.Encrypt(s.identityAAD(id), opening)); err != nil {
			return err
		}
	}
	return nil
}

// saveIdentities stores openings received apart from new entries.
func (s *localState) saveIdentities(openings map[string][]byte) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return s.putIdentities(tx, openings) }); err != nil {
		return fmt.Errorf("saving local state %s: %w", s.path, err)
	}
	return nil
}

// identities reads the stored openings in tx.
func (s *localState) identities(tx *bolt.Tx) (map[string][]byte, error) {
	out := map[string][]byte{}
	prefix := identityKey("")
	c := tx.Bucket(bucketMeta).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		id := string(k[len(prefix):])
		opening, err := s.key.Decrypt(s.identityAAD(id), v)
		if err != nil {
			return nil, fmt.Errorf("local state %s: the identity of user %s does not decrypt: %w", s.path, id, ErrCorruptState)
		}
		out[id] = opening
	}
	return out, nil
}

// withIdentities puts beside each certificate of certs (signed from
// stmts, in order) that creates a user in openings its identity opening.
func withIdentities(stmts []certificate.Statement, certs [][]byte, openings map[string][]byte) ([][]byte, error) {
	if len(openings) == 0 {
		return certs, nil
	}
	out := make([][]byte, len(certs))
	copy(out, certs)
	for i, st := range stmts {
		u, ok := st.(certificate.UserCreated)
		if !ok || u.IdentityCommitment == nil || openings[u.UserID] == nil {
			continue
		}
		var err error
		if out[i], err = certificate.WithIdentity(certs[i], openings[u.UserID]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// personText is a user as the library describes them: "name <email>", or,
// for a user whose identity this device was not sent, "unknown member
// (id …)" (SPEC.md §17).
func personText(u *certificate.User) string {
	if u.Unknown() {
		return "unknown member (id " + u.ID + ")"
	}
	return fmt.Sprintf("%s <%s>", u.Name, u.Email)
}
