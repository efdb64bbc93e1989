package vaultlog

import (
	"bytes"
	"fmt"

	"github.com/coffre/coffre/certificate"
)

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
	if d.RevokedBefore(e.OrganisationPosition, e.Time) {
		return fmt.Errorf("%w: author device %q was revoked before the entry", ErrEntryRefused, e.Author)
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
	if err := d.VerifyKey.Verify(signatureContext, e.body, e.signature); err != nil {
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
