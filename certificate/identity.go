package certificate

// Identity commitments (SPEC.md §17): a UserStatement may carry a commitment
// to the user's name and email instead of the name and email themselves, so
// that the server can withhold the identity (the opening) from outsiders
// while every client still verifies the signed log.

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// identityLabel separates identity commitments from every other digest (SPEC.md §2.5).
const identityLabel = "user-identity"

// identitySaltSize is the salt's length: with it, a commitment does not let
// a reader test guesses of a name or an email.
const identitySaltSize = 32

// ErrIdentity is returned when an identity opening does not match the
// commitment its user's certificate signed: a forged or swapped identity.
var ErrIdentity = errors.New("identity does not match its user's certificate")

// ErrDuplicateEmail is returned when a committed user's email, once
// opened, is the email of another user who was active when the later of
// the two was created: the log can't see a committed email, so each
// holder of the openings refuses it (SPEC.md §3.3, §17, SECURITY.md A70).
var ErrDuplicateEmail = errors.New("email already belongs to another active user")

// Identity is a user's name and email, as an opening of a commitment.
type Identity struct {
	Name  string
	Email string
	salt  []byte
}

// NewIdentity returns an identity with a fresh salt, and its serialised
// opening and commitment for user userID of organisation orgID.
func NewIdentity(orgID, userID, name, email string) (opening, commitment []byte) {
	id := &coffrev1.Identity{Name: name, Email: email, Salt: crypto.RandomBytes(identitySaltSize)}
	opening, err := proto.MarshalOptions{Deterministic: true}.Marshal(id)
	if err != nil {
		panic("certificate: internal error: " + err.Error())
	}
	return opening, commit(orgID, userID, opening)
}

func commit(orgID, userID string, opening []byte) []byte {
	d := crypto.LabeledSum(identityLabel, []byte(orgID), []byte(userID), opening)
	return d[:]
}

// OpenIdentity checks an opening against the commitment of user userID of
// organisation orgID and returns the identity it opens. Any mismatch is
// ErrIdentity: the server could withhold an opening, not forge one.
func OpenIdentity(orgID, userID string, commitment, opening []byte) (Identity, error) {
	if len(commitment) == 0 || !bytes.Equal(commit(orgID, userID, opening), commitment) {
		return Identity{}, fmt.Errorf("user %s: %w", userID, ErrIdentity)
	}
	var id coffrev1.Identity
	if err := proto.Unmarshal(opening, &id); err != nil || len(id.GetSalt()) != identitySaltSize {
		return Identity{}, fmt.Errorf("user %s: %w", userID, ErrIdentity)
	}
	return Identity{Name: id.GetName(), Email: id.GetEmail(), salt: id.GetSalt()}, nil
}

// SplitIdentity separates a log entry as the server sends it into the
// certificate proper ({body, signature}, canonically encoded: the bytes the
// chain hash covers, SPEC.md §17) and the identity opening beside it, if any.
// An entry without an opening is returned unchanged, so logs written before
// §17 keep their hashes.
func SplitIdentity(entry []byte) (cert, opening []byte, err error) {
	if _, _, ok := signedParts(entry); ok {
		return entry, nil, nil // body and signature only: no opening
	}
	var signed coffrev1.SignedCertificate
	if err := proto.Unmarshal(entry, &signed); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	opening = signed.GetIdentity()
	if opening == nil {
		return entry, nil, nil
	}
	signed.Identity = nil
	cert, err = proto.MarshalOptions{Deterministic: true}.Marshal(&signed)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return cert, opening, nil
}

// WithIdentity returns the log entry carrying certificate cert and the
// identity opening beside it.
func WithIdentity(cert, opening []byte) ([]byte, error) {
	var signed coffrev1.SignedCertificate
	if err := proto.Unmarshal(cert, &signed); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	signed.Identity = opening
	return proto.MarshalOptions{Deterministic: true}.Marshal(&signed)
}

// IdentityVisible returns whether reader is to receive the identity
// opening of a user (SPEC.md §17): a member or an administrator receives
// every one; an outsider its own and those of the users it shares a vault
// with. The server withholds the others, and the client asks again, once
// it shares a vault with them, for those it was not sent.
func (o *Organisation) IdentityVisible(reader *User) func(userID string) bool {
	if reader == nil || reader.Profile != ProfileOutsider {
		return func(string) bool { return true }
	}
	visible := map[string]bool{reader.ID: true}
	for _, v := range o.vaults {
		if _, shared := v.grants[reader.ID]; !shared {
			continue
		}
		for id := range v.grants {
			visible[id] = true
		}
	}
	return func(userID string) bool { return visible[userID] }
}

// Unknown reports whether the user's name and email are unknown to this
// reader: committed (SPEC.md §17) and not opened, because the server
// withheld the opening. Such a user is shown by id only.
func (u *User) Unknown() bool {
	return u.IdentityCommitment != nil && u.Name == "" && u.Email == ""
}

// CheckEmails returns ErrDuplicateEmail if a user whose email just became
// known (created after position since with an email, or in opened: the
// users whose identity was just opened) shares it with another user who
// was active when the later of the two was created (SPEC.md §3.3, §17).
// Emails compare case-insensitively (strings.EqualFold), as the greeter
// compares them; the earlier user keeps the email. A pair of users with
// emails in clear is the log's rule (Apply, byte for byte), not this one.
// Users whose identity is unknown (withheld) can't be checked.
func (o *Organisation) CheckEmails(since uint64, opened []string) error {
	var check []*User
	for _, id := range opened {
		if u, ok := o.users[id]; ok && u.Email != "" && u.Position <= since {
			check = append(check, u)
		}
	}
	for _, u := range o.users {
		if u.Position > since && u.Email != "" {
			check = append(check, u)
		}
	}
	if len(check) == 0 {
		return nil
	}
	holders := map[string][]*User{}
	for _, u := range o.users {
		if u.Email != "" {
			k := foldEmail(u.Email)
			holders[k] = append(holders[k], u)
		}
	}
	sort.Slice(check, func(i, j int) bool { return check[i].Position < check[j].Position })
	for _, u := range check {
		for _, v := range holders[foldEmail(u.Email)] {
			earlier, later := v, u
			if later.Position < earlier.Position {
				earlier, later = later, earlier
			}
			if earlier == later || (earlier.IdentityCommitment == nil && later.IdentityCommitment == nil) {
				continue
			}
			if earlier.RevokedAt == 0 || earlier.RevokedAt > later.Position {
				return fmt.Errorf("%w: user %s (entry %d) has the email of user %s", ErrDuplicateEmail, later.ID, later.Position, earlier.ID)
			}
		}
	}
	return nil
}

// foldEmail maps emails that strings.EqualFold holds equal to one key:
// each rune becomes the smallest of its case-folding orbit.
func foldEmail(email string) string {
	var b strings.Builder
	b.Grow(len(email))
	for _, r := range email {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}
