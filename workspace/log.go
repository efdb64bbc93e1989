package workspace

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/coffre/coffre/certificate"
)

// Version is one verified version of a manifest.
type Version struct {
	Manifest *Manifest
	Version  uint64
	Author   string // device id, from the verified signature
	User     string // the author's user id
	Time     time.Time
	Position uint64 // in the vault log
	KeyIndex uint32 // the vault key it was written under, whose chunking secret cut its blocks
}

// Log is a vault's state folded from its verified log: every version of
// every manifest, decrypted (SPEC.md §11.5).
type Log struct {
	OrganisationID string
	VaultID        string
	Head           certificate.Head

	lastOrgPosition uint64
	lastTime        time.Time
	versions        map[string][]Version
}

// NewLog returns the state of a vault's empty log.
func NewLog(orgID, vaultID string) *Log {
	return &Log{
		OrganisationID: orgID, VaultID: vaultID,
		Head:     certificate.Head{Hash: VaultGenesis(orgID, vaultID)},
		versions: map[string][]Version{},
	}
}

// Clone returns an independent copy, so that a batch of entries can be
// checked without touching the state if one fails.
func (l *Log) Clone() *Log {
	c := *l
	c.versions = make(map[string][]Version, len(l.versions))
	for k, v := range l.versions {
		c.versions[k] = slices.Clip(v)
	}
	return &c
}

// Apply verifies one entry of the vault log and folds it in: the chain,
// the checks of Check against the organisation, organisation positions
// and times that never go back (a back-dated write can't slip in after a
// removal: SECURITY.md A15), each manifest version following the one
// before, and each manifest decrypting to what it claims to be.
func (l *Log) Apply(org *certificate.Organisation, keys *Keys, position uint64, data []byte) (*Entry, error) {
	if position != l.Head.Position+1 {
		return nil, fmt.Errorf("%w: position %d after %d", ErrChain, position, l.Head.Position)
	}
	e, err := ParseEntry(data)
	if err != nil {
		return nil, fmt.Errorf("vault entry %d: %w", position, err)
	}
	if e.Position != position || !bytes.Equal(e.PreviousHash, l.Head.Hash) {
		return nil, fmt.Errorf("%w: entry at %d claims position %d and another previous hash", ErrChain, position, e.Position)
	}
	if err := Check(org, l.VaultID, e); err != nil {
		return nil, fmt.Errorf("vault entry %d: %w", position, err)
	}
	if e.OrganisationPosition < l.lastOrgPosition || e.Time.Before(l.lastTime) {
		return nil, fmt.Errorf("vault entry %d: %w: its organisation position or time goes back", position, ErrEntryRefused)
	}
	key, ok := keys.Get(e.KeyIndex)
	if !ok {
		return nil, fmt.Errorf("vault entry %d: %w: key %d", position, ErrNoKey, e.KeyIndex)
	}
	d, _ := org.Device(e.Author)
	var added []Version
	for _, w := range e.Writes {
		if want := uint64(len(l.versions[w.ManifestID])) + 1; w.Version != want {
			return nil, fmt.Errorf("vault entry %d: %w: %s version %d, want %d", position, ErrEntryRefused, w.ManifestID, w.Version, want)
		}
		m, err := decryptManifest(l.OrganisationID, l.VaultID, w, e.KeyIndex, key)
		if err != nil {
			return nil, fmt.Errorf("vault entry %d: %w", position, err)
		}
		if (m.ID == RootID(l.VaultID)) != (m.Parent == "") || (m.ID == RootID(l.VaultID) && !m.Folder) {
			return nil, fmt.Errorf("vault entry %d: %w: %s has a bad parent", position, ErrBadManifest, m.ID)
		}
		added = append(added, Version{Manifest: m, Version: w.Version, Author: e.Author, User: d.UserID, Time: e.Time, Position: position, KeyIndex: e.KeyIndex})
	}
	for _, v := range added {
		l.versions[v.Manifest.ID] = append(l.versions[v.Manifest.ID], v)
	}
	l.lastOrgPosition, l.lastTime = e.OrganisationPosition, e.Time
	l.Head = certificate.Head{Position: position, Hash: EntryHash(l.Head.Hash, data)}
	return e, nil
}

// Latest returns the newest version of a manifest.
func (l *Log) Latest(id string) (Version, bool) {
	vs := l.versions[id]
	if len(vs) == 0 {
		return Version{}, false
	}
	return vs[len(vs)-1], true
}

// AsOf returns the newest version of a manifest written at or before t.
func (l *Log) AsOf(id string, t time.Time) (Version, bool) {
	vs := l.versions[id]
	for i := len(vs) - 1; i >= 0; i-- {
		if !vs[i].Time.After(t) {
			return vs[i], true
		}
	}
	return Version{}, false
}

// History returns every version of a manifest, oldest first.
func (l *Log) History(id string) []Version { return slices.Clone(l.versions[id]) }

// NextVersion returns the version number a new write of id takes.
func (l *Log) NextVersion(id string) uint64 { return uint64(len(l.versions[id])) + 1 }
