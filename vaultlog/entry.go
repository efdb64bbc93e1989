// Package vaultlog reads, writes and checks the entries of a vault's log
// (SPEC.md §11.5): their format, the rules that need no manifest plaintext,
// and the hash chain. The client and the server run the same checks: the
// client because it trusts nothing the server says, the server as defence
// in depth. What the entries' encrypted manifests say is the client's
// business (package workspace).
package vaultlog

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
)

// Vault entry formats (SPEC.md §11.5). Readers read both; writers write
// FormatVersion.
const (
	// FormatSeparate: each write carries its own manifest ciphertext.
	FormatSeparate = 1
	// FormatVersion: the writes' manifests are one ciphertext, the
	// entry's Manifests, and ids that are 32 lowercase hex digits are
	// carried as their 16 bytes.
	FormatVersion = 2
)

// signatureContext is the signing context of vault entries (SPEC.md §2.2).
const signatureContext = "vault-entry"

// Write is one new manifest version in an entry.
type Write struct {
	ManifestID string
	Version    uint64
	Ciphertext []byte // format 1 only
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
	// Format is FormatSeparate or FormatVersion; 0 when signing means
	// FormatVersion.
	Format uint32
	// Manifests is a format-2 entry's one ciphertext of its writes'
	// manifests.
	Manifests []byte

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
	format := b.GetFormatVersion()
	if (format != FormatSeparate && format != FormatVersion) || len(b.GetWrites()) == 0 {
		return nil, fmt.Errorf("%w: format version %d with %d writes", ErrMalformed, format, len(b.GetWrites()))
	}
	// Format 1 carries a ciphertext per write, format 2 one for all.
	if (format == FormatSeparate) != (len(b.GetManifests()) == 0) {
		return nil, fmt.Errorf("%w: a format-%d entry with a manifest batch of %d bytes", ErrMalformed, format, len(b.GetManifests()))
	}
	e := &Entry{
		OrganisationID: b.GetOrganisationId(), VaultID: b.GetVaultId(), Author: b.GetAuthor(),
		Time: time.UnixMilli(b.GetTimestampMs()).UTC(), Position: b.GetPosition(), PreviousHash: b.GetPreviousHash(),
		OrganisationPosition: b.GetOrganisationPosition(), OrganisationHash: b.GetOrganisationHash(),
		KeyIndex: b.GetKeyIndex(), Format: format, Manifests: b.GetManifests(),
		body: signed.GetBody(), signature: signed.GetSignature(),
	}
	seen := map[string]bool{}
	for _, w := range b.GetWrites() {
		id, valid := w.GetManifestId(), false
		if format == FormatVersion {
			if id, valid = ParseCompactID(w.GetManifestId(), w.GetRawId()); !valid || len(w.GetCiphertext()) != 0 {
				return nil, fmt.Errorf("%w: bad manifest write %q/%x in a format-2 entry", ErrMalformed, w.GetManifestId(), w.GetRawId())
			}
		} else if len(w.GetRawId()) != 0 {
			return nil, fmt.Errorf("%w: a raw manifest id in a format-1 entry", ErrMalformed)
		} else {
			valid = certificate.ValidID(id)
		}
		if !valid || w.GetVersion() == 0 || seen[id] {
			return nil, fmt.Errorf("%w: bad manifest write %q v%d", ErrMalformed, id, w.GetVersion())
		}
		seen[id] = true
		e.Writes = append(e.Writes, Write{ManifestID: id, Version: w.GetVersion(), Ciphertext: w.GetCiphertext()})
	}
	return e, nil
}

// CompactID is an id as a format-2 entry or a manifest batch carries it
// (SPEC.md §11.5): an id of 32 lowercase hex digits, as every id this
// version makes is, as its 16 bytes (raw); any other as text.
func CompactID(id string) (text string, raw []byte) {
	if len(id) == 32 && strings.Trim(id, "0123456789abcdef") == "" {
		raw, _ = hex.DecodeString(id)
		return "", raw
	}
	return id, nil
}

// ParseCompactID reverses CompactID: exactly one of text and raw is set,
// raw is 16 bytes, and text is a valid id (certificate.ValidID) that has
// no raw form, so that an id has one encoding. A raw id is valid as it is
// (32 hex digits): a log of thousands of them is not matched against the
// id pattern one by one.
func ParseCompactID(text string, raw []byte) (string, bool) {
	switch {
	case len(raw) == 16 && text == "":
		return hex.EncodeToString(raw), true
	case len(raw) == 0 && text != "":
		_, r := CompactID(text)
		return text, r == nil && certificate.ValidID(text)
	}
	return "", false
}

// SignEntry serialises e and signs it with the author's device key.
func SignEntry(key *crypto.SigningKey, e *Entry) ([]byte, error) {
	format := e.Format
	if format == 0 {
		format = FormatVersion
	}
	b := &coffrev1.VaultEntry{
		FormatVersion: format, OrganisationId: e.OrganisationID, VaultId: e.VaultID, Author: e.Author,
		TimestampMs: e.Time.UnixMilli(), Position: e.Position, PreviousHash: e.PreviousHash,
		OrganisationPosition: e.OrganisationPosition, OrganisationHash: e.OrganisationHash, KeyIndex: e.KeyIndex,
		Manifests: e.Manifests,
	}
	for _, w := range e.Writes {
		mw := &coffrev1.ManifestWrite{ManifestId: w.ManifestID, Version: w.Version, Ciphertext: w.Ciphertext}
		if format == FormatVersion {
			mw.ManifestId, mw.RawId = CompactID(w.ManifestID)
		}
		b.Writes = append(b.Writes, mw)
	}
	opts := proto.MarshalOptions{Deterministic: true}
	body, err := opts.Marshal(b)
	if err != nil {
		return nil, err
	}
	return opts.Marshal(&coffrev1.SignedVaultEntry{Body: body, Signature: key.Sign(signatureContext, body)})
}
