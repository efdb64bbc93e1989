package client

import (
	"fmt"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Identity openings (SPEC.md §17): a log entry may carry, beside the signed
// certificate, the opening of its user's identity commitment. The server may
// withhold an opening (from outsiders), never forge one: each is checked
// against the commitment the certificate signed (SECURITY.md A68).

// splitIdentities returns the certificate bytes of each entry (what the
// chain hash covers) and the identities opened, by user id. An opening that
// does not match its commitment, or that comes with anything but a
// committed user's certificate, fails the whole page.
func splitIdentities(orgID string, entries []*coffrev1.LogEntry) ([][]byte, map[string]certificate.Identity, error) {
	certs := make([][]byte, len(entries))
	var opened map[string]certificate.Identity
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
			return nil, nil, fmt.Errorf("%w: entry %d carries an identity but creates no user", ErrBadLog, e.GetPosition())
		}
		id, err := certificate.OpenIdentity(orgID, u.UserID, u.IdentityCommitment, opening)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: entry %d: %w", ErrBadLog, e.GetPosition(), err)
		}
		if opened == nil {
			opened = map[string]certificate.Identity{}
		}
		opened[u.UserID] = id
	}
	return certs, opened, nil
}

// showIdentities writes the opened names and emails into the verified
// state, whose users were created by the certificates that committed them.
func showIdentities(org *certificate.Organisation, opened map[string]certificate.Identity) {
	for id, ident := range opened {
		if u, ok := org.User(id); ok && u.IdentityCommitment != nil {
			u.Name, u.Email = ident.Name, ident.Email
		}
	}
}
