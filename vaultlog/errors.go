package vaultlog

import "errors"

// Errors of the vault log. A log that is older than, or diverges from, what
// this device verified is certificate.ErrRollback or certificate.ErrFork,
// and an entry that does not extend the chain is certificate.ErrChain: one
// sentinel for the organisation log and every vault log. An append made
// against a head that moved is certificate.ErrConflict.
var (
	// ErrMalformed is returned by ParseEntry for bytes that are not a
	// well-formed vault entry: not canonical, another format version, no
	// writes, a bad or repeated manifest id.
	ErrMalformed = errors.New("malformed vault entry")
	// ErrEntryRefused is returned, wrapped, when a well-formed entry breaks
	// a rule of SPEC.md §11.5: another organisation or vault, an unknown
	// author, no write role, not the newest key, a bad signature, an
	// organisation position or time that goes back, a manifest version
	// that is not the next one.
	ErrEntryRefused = errors.New("vault entry refused")
	// ErrOrganisationBehind is returned by Check when an entry refers to an
	// organisation log position this device has not verified yet: sync
	// the organisation log first.
	ErrOrganisationBehind = errors.New("vault entry refers to a newer organisation log: sync it first")
	// ErrRotationPending is returned before anything is appended to a vault
	// whose key must be rotated first because a member left
	// (certificate.Organisation.NeedsRotation): nothing new is encrypted
	// under a key they hold. The server refuses the append with it and the
	// client refuses before uploading. Its message is the one the wire has
	// always carried.
	ErrRotationPending = errors.New("a member left this vault: its key must be rotated first")
)
