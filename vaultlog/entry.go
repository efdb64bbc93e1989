// Package vaultlog reads, writes and checks the entries of a vault's log
// (SPEC.md §11.5): their format, the rules that need no manifest plaintext,
// and the hash chain. The client and the server run the same checks: the
// client because it trusts nothing the server says, the server as defence
// in depth. What the entries' encrypted manifests say is the client's
// business (package workspace).
package vaultlog

import (
	"bytes"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// FormatVersion is the only vault entry format this version reads.
const FormatVersion = 1

// signatureContext is the signing context of vault entries (SPEC.md §2.2).
const signatureContext = "vault-entry"

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

// ParseEntry decodes a signed vault entry; it checks the format only.
func ParseEntry(data []byte) (*Entry, error) {
	var signed coffrev1.SignedVaultEntry
	if err := proto.Unmarshal(data, &signed); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// One entry has one encoding, so one chain hash.
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

// SignEntry serialises e and signs it with the author's device key.
func SignEntry(key *crypto.SigningKey, e *Entry) ([]byte, error) {
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
	return opts.Marshal(&coffrev1.SignedVaultEntry{Body: body, Signature: key.Sign(signatureContext, body)})
}
