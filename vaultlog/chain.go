package vaultlog

import (
	"bytes"
	"fmt"
	"maps"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// VaultGenesis is the hash that entry 1 of a vault's log extends.
func VaultGenesis(orgID, vaultID string) []byte {
	d := crypto.LabeledSum("vault-genesis", []byte(orgID), []byte(vaultID))
	return d[:]
}

// EntryHash is the chain hash of a vault entry: data is the entry as
// stored, prev the hash of the entry before (VaultGenesis for entry 1).
func EntryHash(prev, data []byte) []byte {
	d := crypto.LabeledSum("vault-entry", prev, data)
	return d[:]
}

// Extends checks that e claims to be the entry right after head: the next
// position and head's hash as its previous hash (certificate.ErrChain).
func Extends(head certificate.Head, e *Entry) error {
	if e.Position != head.Position+1 || !bytes.Equal(e.PreviousHash, head.Hash) {
		return fmt.Errorf("%w: entry claims position %d after %d, or another previous hash", certificate.ErrChain, e.Position, head.Position)
	}
	return nil
}

// Tail is what the rules of a new entry need from the entries before it
// (SPEC.md §11.5): the organisation position and time the newest one
// claims, and each manifest's newest version number. The zero Tail is
// that of an empty log.
type Tail struct {
	OrganisationPosition uint64
	Time                 time.Time
	versions             map[string]uint64
}

// Check applies the rules every reader applies against the previous
// entries: organisation positions and times never go back (a back-dated
// write can't slip in after a removal: SECURITY.md A15), and each
// manifest's version is the next one (ErrEntryRefused).
func (t *Tail) Check(e *Entry) error {
	if e.OrganisationPosition < t.OrganisationPosition || e.Time.Before(t.Time) {
		return fmt.Errorf("%w: organisation position %d at %v goes back from %d at %v", ErrEntryRefused,
			e.OrganisationPosition, e.Time, t.OrganisationPosition, t.Time)
	}
	for _, w := range e.Writes {
		if want := t.NextVersion(w.ManifestID); w.Version != want {
			return fmt.Errorf("%w: %s version %d, want %d", ErrEntryRefused, w.ManifestID, w.Version, want)
		}
	}
	return nil
}

// Fold takes in an entry that passed Check.
func (t *Tail) Fold(e *Entry) {
	if t.versions == nil {
		t.versions = map[string]uint64{}
	}
	t.OrganisationPosition, t.Time = e.OrganisationPosition, e.Time
	for _, w := range e.Writes {
		t.versions[w.ManifestID] = w.Version
	}
}

// NextVersion returns the version number a new write of manifest id takes.
func (t *Tail) NextVersion(id string) uint64 { return t.versions[id] + 1 }

// Clone returns an independent copy.
func (t *Tail) Clone() Tail {
	c := *t
	c.versions = maps.Clone(t.versions)
	return c
}
