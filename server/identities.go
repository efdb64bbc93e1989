package server

import (
	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Identity openings (SPEC.md §17): the server stores each user's opening
// beside the certificate, and withholds it from an outsider who shares no
// vault with that user. It could not forge one: clients check each against
// the signed commitment.

// checkIdentity splits an appended entry into its certificate and opening
// and refuses an opening that does not open the certificate's commitment.
func checkIdentity(orgID string, data []byte) (cert, opening []byte, err error) {
	cert, opening, err = certificate.SplitIdentity(data)
	if err != nil || opening == nil {
		return cert, nil, err
	}
	c, err := certificate.Parse(cert)
	if err != nil {
		return nil, nil, err
	}
	u, ok := c.Statement.(certificate.UserCreated)
	if !ok {
		return nil, nil, certificate.ErrIdentity
	}
	if _, err := certificate.OpenIdentity(orgID, u.UserID, u.IdentityCommitment, opening); err != nil {
		return nil, nil, err
	}
	return cert, opening, nil
}

// redactIdentities strips from entries the openings reader may not see:
// for an outsider, those of users with whom it shares no vault
// (certificate.IdentityVisible).
func redactIdentities(org *certificate.Organisation, reader *certificate.User, entries []*coffrev1.LogEntry) {
	if reader == nil || reader.Profile != certificate.ProfileOutsider {
		return
	}
	visible := org.IdentityVisible(reader)
	for _, e := range entries {
		cert, opening, err := certificate.SplitIdentity(e.GetData())
		if err != nil || opening == nil {
			continue
		}
		if c, err := certificate.Parse(cert); err == nil {
			if u, ok := c.Statement.(certificate.UserCreated); ok && visible(u.UserID) {
				continue
			}
		}
		e.Data = cert
	}
}

// invitedEmail is the email of a user created by an invitation: in the
// certificate, or, for a committed user, in the opening that must come
// with it (checked on append by checkIdentity), which the server sees as
// it saw the invitation's email.
func invitedEmail(orgID string, u certificate.UserCreated, opening []byte) string {
	if u.IdentityCommitment == nil {
		return u.Email
	}
	id, err := certificate.OpenIdentity(orgID, u.UserID, u.IdentityCommitment, opening)
	if err != nil {
		return ""
	}
	return id.Email
}

// knowIdentity writes into the server's state the name and email of the
// user c creates, from the opening stored with it: the server sees every
// identity (SPEC.md §17), and uses the email for a device invitation as it
// did before. It returns certificate.ErrDuplicateEmail if that email, or
// the email in clear of a user c creates, is another active user's: the
// log can't refuse a committed email, the clients holding its opening do,
// and the server, which sees them all, refuses the append first (a
// courtesy: SECURITY.md A70). The stored log it catches up on was checked
// so when appended; what it holds anyway is the clients' to refuse.
func knowIdentity(org *certificate.Organisation, c *certificate.Certificate, opening []byte) error {
	u, ok := c.Statement.(certificate.UserCreated)
	if !ok {
		return nil
	}
	if u.IdentityCommitment != nil && opening != nil {
		id, err := certificate.OpenIdentity(org.ID, u.UserID, u.IdentityCommitment, opening)
		if err != nil {
			return nil
		}
		if user, ok := org.User(u.UserID); ok {
			user.Name, user.Email = id.Name, id.Email
		}
	}
	return org.CheckEmails(c.Position-1, nil)
}
