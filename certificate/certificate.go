// Package certificate reads, writes and checks the signed statements of the
// organisation log, and folds a verified log into the organisation's state:
// who is a member, with which profile, which devices they have and who was
// revoked when (SPEC.md §3 and §4).
//
// The client and the server use the same checks: the client because it
// trusts nothing the server says, the server as defence in depth.
package certificate

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// FormatVersion is the only certificate format this version reads. 2: key
// bundles carry a key commitment (SPEC.md §11.2), which a format-1 reader
// would skip as an unknown field.
const FormatVersion = 2

// signatureContext is the signing context of certificates (SPEC.md §2.2).
const signatureContext = "certificate"

var (
	// ErrMalformed is returned for bytes that are not a well-formed certificate.
	ErrMalformed = errors.New("malformed certificate")
	// ErrSignature is returned when a certificate's signature does not verify
	// with its author's key.
	ErrSignature = errors.New("certificate signature does not verify")
	// ErrRule is returned, wrapped in a *RuleError, when a well-signed
	// certificate breaks a rule of SPEC.md §3.3.
	ErrRule = errors.New("certificate breaks a rule")
	// ErrChain is returned when an entry of a log, the organisation's or a
	// vault's (package vaultlog), does not extend the verified chain
	// (wrong position or previous hash).
	ErrChain = errors.New("log entry does not extend the verified chain")
	// ErrRollback is returned when the server offers a log, the
	// organisation's or a vault's, shorter than the head this device
	// verified before (SECURITY.md A13).
	ErrRollback = errors.New("log is older than the verified head: possible rollback")
	// ErrFork is returned when the server's log, the organisation's or a
	// vault's, diverges from the head this device verified before, or when
	// a vault entry claims an organisation head of another branch
	// (SECURITY.md A14, A31).
	ErrFork = errors.New("log diverges from the verified head: possible fork")
	// ErrConflict is returned when an append to a log, the organisation's
	// or a vault's, was made against a head that is no longer the newest:
	// someone else appended first and nothing was written; read the log
	// again and retry. The server returns it and the client receives it
	// (wire maps it); its message is the one the wire has always carried.
	ErrConflict = errors.New("the organisation log moved: read it again")
)

// RuleError says which rule a certificate broke, and where.
type RuleError struct {
	Position uint64
	Reason   string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("certificate at position %d: %s", e.Position, e.Reason)
}

func (e *RuleError) Unwrap() error { return ErrRule }

// Profile is a user's profile (PRODUCT.md).
type Profile int

const (
	ProfileAdmin    Profile = Profile(coffrev1.Profile_PROFILE_ADMIN)
	ProfileStandard Profile = Profile(coffrev1.Profile_PROFILE_STANDARD)
	ProfileOutsider Profile = Profile(coffrev1.Profile_PROFILE_OUTSIDER)
)

// ParseProfile reads "admin", "standard" or "outsider".
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "admin":
		return ProfileAdmin, nil
	case "standard":
		return ProfileStandard, nil
	case "outsider":
		return ProfileOutsider, nil
	}
	return 0, fmt.Errorf("unknown profile %q (want admin, standard or outsider)", s)
}

func (p Profile) String() string {
	switch p {
	case ProfileAdmin:
		return "admin"
	case ProfileStandard:
		return "standard"
	case ProfileOutsider:
		return "outsider"
	}
	return fmt.Sprintf("profile(%d)", int(p))
}

func (p Profile) valid() bool {
	return p == ProfileAdmin || p == ProfileStandard || p == ProfileOutsider
}

// Statements: exactly one per certificate.
type (
	// UserCreated creates a user.
	UserCreated struct {
		UserID  string
		Name    string
		Email   string
		Profile Profile
		SealKey crypto.SealPublicKey
		// IdentityCommitment, when set, commits to the user's name and
		// email, which are then empty here (SPEC.md §17).
		IdentityCommitment []byte
	}
	// DeviceAdded adds a device to a user.
	DeviceAdded struct {
		DeviceID  string
		UserID    string
		Label     string
		VerifyKey crypto.VerifyKey
		// SealKey is the device's own seal key (SPEC.md §15.2); zero
		// for a device enrolled without one.
		SealKey crypto.SealPublicKey
	}
	// UserRevoked revokes a user and every one of their devices.
	UserRevoked struct {
		UserID string
	}
	// ProfileChanged changes a user's profile.
	ProfileChanged struct {
		UserID  string
		Profile Profile
	}
)

// Statement is one of the statement types above.
type Statement interface{ isStatement() }

func (UserCreated) isStatement()    {}
func (DeviceAdded) isStatement()    {}
func (UserRevoked) isStatement()    {}
func (ProfileChanged) isStatement() {}

// Certificate is a parsed certificate. Its signature is not checked yet:
// only Organisation.Apply checks it, against the key the log says the
// author had.
type Certificate struct {
	OrganisationID string
	Author         string // device id; "" for the root key
	Time           time.Time
	Position       uint64
	PreviousHash   []byte
	Statement      Statement

	body      []byte // the exact signed bytes
	signature []byte
}

var idPattern = regexp.MustCompile(`^[a-z0-9]{8,64}$`)

// ValidID reports whether s is a well-formed user, device or organisation id.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// NewID returns a new random id (16 random bytes, lowercase hex).
func NewID() string { return fmt.Sprintf("%x", crypto.RandomBytes(16)) }

// Parse decodes a signed certificate. It checks the format only.
func Parse(data []byte) (*Certificate, error) {
	signedBody, signature, ok := signedParts(data)
	if !ok {
		var err error
		if signedBody, signature, err = parseSigned(data); err != nil {
			return nil, err
		}
	}
	var body coffrev1.Certificate
	if err := proto.Unmarshal(signedBody, &body); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if body.GetFormatVersion() != FormatVersion {
		return nil, fmt.Errorf("%w: format version %d", ErrMalformed, body.GetFormatVersion())
	}
	c := &Certificate{
		OrganisationID: body.GetOrganisationId(),
		Author:         body.GetAuthor(),
		Time:           time.UnixMilli(body.GetTimestampMs()).UTC(),
		Position:       body.GetPosition(),
		PreviousHash:   body.GetPreviousHash(),
		body:           signedBody,
		signature:      signature,
	}
	var err error
	if c.Statement, err = statementFromWire(&body); err != nil {
		return nil, err
	}
	return c, nil
}

// parseSigned reads a SignedCertificate that signedParts does not: any
// encoding proto reads, kept only if it is the canonical one. One
// certificate has one encoding: bytes with unknown fields or another field
// order would give the same certificate a second entry hash (and a false
// fork alarm). Unknown fields are refused by name: proto keeps them and
// writes them back, so the canonical form alone would let them through.
func parseSigned(data []byte) (body, signature []byte, err error) {
	var signed coffrev1.SignedCertificate
	if err := proto.Unmarshal(data, &signed); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(signed.ProtoReflect().GetUnknown()) != 0 {
		return nil, nil, fmt.Errorf("%w: unknown fields beside the signature", ErrMalformed)
	}
	canonical, err := proto.MarshalOptions{Deterministic: true}.Marshal(&signed)
	if err != nil || !bytes.Equal(canonical, data) {
		return nil, nil, fmt.Errorf("%w: not in canonical encoding", ErrMalformed)
	}
	return signed.GetBody(), signed.GetSignature(), nil
}

func statementFromWire(b *coffrev1.Certificate) (Statement, error) {
	switch s := b.GetStatement().(type) {
	case *coffrev1.Certificate_User:
		key, err := crypto.ParseSealPublicKey(s.User.GetSealPublicKey())
		if err != nil {
			return nil, fmt.Errorf("%w: user seal key: %v", ErrMalformed, err)
		}
		return UserCreated{
			UserID:  s.User.GetUserId(),
			Name:    s.User.GetName(),
			Email:   s.User.GetEmail(),
			Profile: Profile(s.User.GetProfile()),
			SealKey: key,

			IdentityCommitment: s.User.GetIdentityCommitment(),
		}, nil
	case *coffrev1.Certificate_Device:
		key, err := crypto.ParseVerifyKey(s.Device.GetVerifyKey())
		if err != nil {
			return nil, fmt.Errorf("%w: device verify key: %v", ErrMalformed, err)
		}
		d := DeviceAdded{
			DeviceID:  s.Device.GetDeviceId(),
			UserID:    s.Device.GetUserId(),
			Label:     s.Device.GetLabel(),
			VerifyKey: key,
		}
		if b := s.Device.GetSealPublicKey(); b != nil {
			if d.SealKey, err = crypto.ParseSealPublicKey(b); err != nil {
				return nil, fmt.Errorf("%w: device seal key: %v", ErrMalformed, err)
			}
		}
		return d, nil
	case *coffrev1.Certificate_UserRevoked:
		return UserRevoked{UserID: s.UserRevoked.GetUserId()}, nil
	case *coffrev1.Certificate_ProfileChanged:
		return ProfileChanged{
			UserID:  s.ProfileChanged.GetUserId(),
			Profile: Profile(s.ProfileChanged.GetProfile()),
		}, nil
	case *coffrev1.Certificate_DeviceRevoked:
		return DeviceRevoked{DeviceID: s.DeviceRevoked.GetDeviceId()}, nil
	case *coffrev1.Certificate_UserKeysRotated:
		return userKeysRotatedFromWire(s.UserKeysRotated)
	}
	if st, ok := vaultStatementFromWire(b); ok {
		return st, nil
	}
	if st, ok := sharedRecoveryFromWire(b); ok {
		return st, nil
	}
	return nil, fmt.Errorf("%w: no known statement", ErrMalformed)
}

func statementToWire(s Statement, b *coffrev1.Certificate) error {
	switch s := s.(type) {
	case UserCreated:
		b.Statement = &coffrev1.Certificate_User{User: &coffrev1.UserStatement{
			UserId: s.UserID, Name: s.Name, Email: s.Email,
			Profile: coffrev1.Profile(s.Profile), SealPublicKey: s.SealKey.Bytes(),
			IdentityCommitment: s.IdentityCommitment,
		}}
	case DeviceAdded:
		d := &coffrev1.DeviceStatement{DeviceId: s.DeviceID, UserId: s.UserID, Label: s.Label, VerifyKey: s.VerifyKey.Bytes()}
		if !s.SealKey.Equal(crypto.SealPublicKey{}) {
			d.SealPublicKey = s.SealKey.Bytes()
		}
		b.Statement = &coffrev1.Certificate_Device{Device: d}
	case UserRevoked:
		b.Statement = &coffrev1.Certificate_UserRevoked{UserRevoked: &coffrev1.UserRevokedStatement{UserId: s.UserID}}
	case ProfileChanged:
		b.Statement = &coffrev1.Certificate_ProfileChanged{ProfileChanged: &coffrev1.ProfileChangedStatement{
			UserId: s.UserID, Profile: coffrev1.Profile(s.Profile),
		}}
	case DeviceRevoked:
		b.Statement = &coffrev1.Certificate_DeviceRevoked{DeviceRevoked: &coffrev1.DeviceRevokedStatement{DeviceId: s.DeviceID}}
	case UserKeysRotated:
		b.Statement = userKeysRotatedToWire(s)
	default:
		if !vaultStatementToWire(s, b) && !sharedRecoveryToWire(s, b) {
			return fmt.Errorf("certificate: internal error: unknown statement %T", s)
		}
	}
	return nil
}

// Draft is a certificate about to be signed.
type Draft struct {
	OrganisationID string
	Author         string
	Time           time.Time
	Position       uint64
	PreviousHash   []byte
	Statement      Statement
}

// Sign serialises the draft once and signs those bytes. The result is what
// goes into the log.
func Sign(key *crypto.SigningKey, d Draft) ([]byte, error) {
	body := &coffrev1.Certificate{
		FormatVersion:  FormatVersion,
		OrganisationId: d.OrganisationID,
		Author:         d.Author,
		TimestampMs:    d.Time.UnixMilli(),
		Position:       d.Position,
		PreviousHash:   d.PreviousHash,
	}
	if err := statementToWire(d.Statement, body); err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding certificate: %w", err)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(&coffrev1.SignedCertificate{
		Body:      b,
		Signature: key.Sign(signatureContext, b),
	})
}

// verify checks the signature with the author's key.
func (c *Certificate) verify(key crypto.VerifyKey) error {
	if err := key.Verify(signatureContext, c.body, c.signature); err != nil {
		return fmt.Errorf("position %d by %q: %w", c.Position, c.Author, ErrSignature)
	}
	return nil
}
