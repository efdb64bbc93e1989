package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// FormatVersion is the only vault entry and manifest format this version reads.
const FormatVersion = 1

const entrySignatureContext = "vault-entry"

var (
	// ErrMalformed is returned for bytes that are not a well-formed entry or manifest.
	ErrMalformed = errors.New("malformed vault entry")
	// ErrEntryRefused is returned, wrapped, when a well-formed entry breaks
	// a rule of SPEC.md §11.5: bad signature, no write role, wrong key.
	ErrEntryRefused = errors.New("vault entry refused")
	// ErrChain is returned when an entry does not extend the verified vault chain.
	ErrChain = errors.New("vault entry does not extend the verified chain")
	// ErrRollback is returned when the server offers a vault log shorter than
	// the head this device verified (SECURITY.md A13).
	ErrRollback = errors.New("vault log is older than the verified head: possible rollback")
	// ErrFork is returned when the server's vault log diverges from the
	// verified head (SECURITY.md A14).
	ErrFork = errors.New("vault log diverges from the verified head: possible fork")
	// ErrOrganisationBehind is returned when an entry refers to an
	// organisation log position this device has not verified yet: sync the
	// organisation log first.
	ErrOrganisationBehind = errors.New("vault entry refers to a newer organisation log: sync it first")
)

// Write is one new manifest version in an entry.
type Write struct {
	ManifestID string
	Version    uint64
	Ciphertext []byte
}

// Entry is a parsed vault entry.
type Entry struct {
	OrganisationID       string
	VaultID              string
	Author               string
	Time                 time.Time
	Position             uint64
	PreviousHash         []byte
	OrganisationPosition uint64
	OrganisationHash     []byte
	KeyIndex             uint32
	Writes               []Write

	body, signature []byte
}

// VaultGenesis is the hash that entry 1 of a vault's log extends.
func VaultGenesis(orgID, vaultID string) []byte {
	d := crypto.LabeledSum("vault-genesis", []byte(orgID), []byte(vaultID))
	return d[:]
}

// EntryHash is the chain hash of a vault entry.
func EntryHash(prev, data []byte) []byte {
	d := crypto.LabeledSum("vault-entry", prev, data)
	return d[:]
}

// ParseEntry decodes a signed vault entry; it checks the format only.
func ParseEntry(data []byte) (*Entry, error) {
	var signed coffrev1.SignedVaultEntry
	if err := proto.Unmarshal(data, &signed); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	canonical, err := proto.MarshalOptions{Deterministic: true}.Marshal(&signed)
	if err != nil || !bytes.Equal(canonical, data) {
		return nil, fmt.Errorf("%w: not in canonical encoding", ErrMalformed)
	}
	var b coffrev1.VaultEntry
	if err := proto.Unmarshal(signed.GetBody(), &b); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if b.GetFormatVersion() != FormatVersion || len(b.GetWrites()) == 0 {
		return nil, fmt.Errorf("%w: format version %d with %d writes", ErrMalformed, b.GetFormatVersion(), len(b.GetWrites()))
	}
	e := &Entry{
		OrganisationID: b.GetOrganisationId(), VaultID: b.GetVaultId(), Author: b.GetAuthor(),
		Time: time.UnixMilli(b.GetTimestampMs()).UTC(), Position: b.GetPosition(), PreviousHash: b.GetPreviousHash(),
		OrganisationPosition: b.GetOrganisationPosition(), OrganisationHash: b.GetOrganisationHash(),
		KeyIndex: b.GetKeyIndex(), body: signed.GetBody(), signature: signed.GetSignature(),
	}
	seen := map[string]bool{}
	for _, w := range b.GetWrites() {
		if !certificate.ValidID(w.GetManifestId()) || w.GetVersion() == 0 || seen[w.GetManifestId()] {
			return nil, fmt.Errorf("%w: bad manifest write %q v%d", ErrMalformed, w.GetManifestId(), w.GetVersion())
		}
		seen[w.GetManifestId()] = true
		e.Writes = append(e.Writes, Write{ManifestID: w.GetManifestId(), Version: w.GetVersion(), Ciphertext: w.GetCiphertext()})
	}
	return e, nil
}

// signEntry serialises and signs an entry.
func signEntry(key *crypto.SigningKey, e *Entry) ([]byte, error) {
	b := &coffrev1.VaultEntry{
		FormatVersion: FormatVersion, OrganisationId: e.OrganisationID, VaultId: e.VaultID, Author: e.Author,
		TimestampMs: e.Time.UnixMilli(), Position: e.Position, PreviousHash: e.PreviousHash,
		OrganisationPosition: e.OrganisationPosition, OrganisationHash: e.OrganisationHash, KeyIndex: e.KeyIndex,
	}
	for _, w := range e.Writes {
		b.Writes = append(b.Writes, &coffrev1.ManifestWrite{ManifestId: w.ManifestID, Version: w.Version, Ciphertext: w.Ciphertext})
	}
	opts := proto.MarshalOptions{Deterministic: true}
	body, err := opts.Marshal(b)
	if err != nil {
		return nil, err
	}
	return opts.Marshal(&coffrev1.SignedVaultEntry{Body: body, Signature: key.Sign(entrySignatureContext, body)})
}

// Check verifies an entry against the organisation state, apart from the
// vault chain (SPEC.md §11.5): it is for this organisation and vault; the
// organisation position it claims is verified and its hash matches (a
// writer on another branch of the log is a fork); the author is a device
// whose user had a write role at that position and at the entry's time,
// and lost it by no certificate dated at or before that time;
// the key is the vault's newest at that position; the signature verifies.
// The server runs the same checks.
func Check(org *certificate.Organisation, vaultID string, e *Entry) error {
	if e.OrganisationID != org.ID || e.VaultID != vaultID {
		return fmt.Errorf("%w: entry of another organisation or vault", ErrEntryRefused)
	}
	if e.OrganisationPosition > org.Head.Position {
		return ErrOrganisationBehind
	}
	if h, ok := org.HashAt(e.OrganisationPosition); !ok || !bytes.Equal(h, e.OrganisationHash) {
		return fmt.Errorf("%w: the writer's organisation log differs at position %d", certificate.ErrFork, e.OrganisationPosition)
	}
	d, ok := org.Device(e.Author)
	if !ok || d.Position > e.OrganisationPosition {
		return fmt.Errorf("%w: unknown author %q", ErrEntryRefused, e.Author)
	}
	v, ok := org.Vault(vaultID)
	if !ok || v.Position > e.OrganisationPosition {
		return fmt.Errorf("%w: unknown vault", ErrEntryRefused)
	}
	if !org.RoleAt(v, d.UserID, e.OrganisationPosition, e.Time).CanWrite() {
		return fmt.Errorf("%w: author %q had no write role at position %d", ErrEntryRefused, e.Author, e.OrganisationPosition)
	}
	if org.LostWriteBy(v, d.UserID, e.OrganisationPosition, e.Time) {
		return fmt.Errorf("%w: author %q was removed or revoked before the entry's time", ErrEntryRefused, e.Author)
	}
	if e.KeyIndex != keyIndexAt(v, e.OrganisationPosition) {
		return fmt.Errorf("%w: key %d is not the newest at position %d", ErrEntryRefused, e.KeyIndex, e.OrganisationPosition)
	}
	if err := d.VerifyKey.Verify(entrySignatureContext, e.body, e.signature); err != nil {
		return fmt.Errorf("%w: signature does not verify", ErrEntryRefused)
	}
	return nil
}

// keyIndexAt returns the newest key index of v at an organisation position.
func keyIndexAt(v *certificate.Vault, pos uint64) uint32 {
	var idx uint32
	for _, k := range v.Keys {
		if k.Position <= pos {
			idx = k.Index
		}
	}
	return idx
}
