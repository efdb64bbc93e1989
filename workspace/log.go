package workspace

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/vaultlog"
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

	// tail counts every version of each manifest, quarantined ones
	// included, so that the next version number follows the log.
	tail        vaultlog.Tail
	versions    map[string][]Version
	hashes      [][]byte // hashes[p] is the chain hash after position p
	quarantined []Quarantined
}

// Quarantined is an entry whose author was allowed to write it (Check
// passed: signature, role, key) but whose manifests don't open or don't
// describe what they claim. It keeps its place in the chain and its
// version numbers, and nothing of it is shown: one writer's bad entry
// does not stop the vault for everyone (SPEC.md §11.5).
type Quarantined struct {
	Position uint64
	Author   string // device id, from the verified signature
	User     string
	Time     time.Time
	Reason   error // wraps ErrBadManifest
}

// NewLog returns the state of a vault's empty log.
func NewLog(orgID, vaultID string) *Log {
	return &Log{
		OrganisationID: orgID, VaultID: vaultID,
		Head:     certificate.Head{Hash: vaultlog.VaultGenesis(orgID, vaultID)},
		versions: map[string][]Version{},
		hashes:   [][]byte{vaultlog.VaultGenesis(orgID, vaultID)},
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
	c.tail = l.tail.Clone()
	c.hashes = slices.Clip(l.hashes)
	c.quarantined = slices.Clip(l.quarantined)
	return &c
}

// HashAt returns the chain hash after position pos of the verified log.
func (l *Log) HashAt(pos uint64) ([]byte, bool) {
	if pos >= uint64(len(l.hashes)) {
		return nil, false
	}
	return l.hashes[pos], true
}

// IsHead reports whether data, offered at the verified head's position,
// is the entry this device verified there: a different entry at the same
// position is a fork of equal length (SECURITY.md A14, A31).
func (l *Log) IsHead(position uint64, data []byte) bool {
	return position == l.Head.Position && position > 0 &&
		bytes.Equal(vaultlog.EntryHash(l.hashes[position-1], data), l.Head.Hash)
}

// LastOrganisationPosition is the organisation position the newest entry
// claims (0 for an empty log).
func (l *Log) LastOrganisationPosition() uint64 { return l.tail.OrganisationPosition }

// Quarantined lists the entries skipped because their manifests don't
// open, oldest first.
func (l *Log) Quarantined() []Quarantined { return slices.Clone(l.quarantined) }

// Apply verifies one entry of the vault log and folds it in: the chain,
// the checks of vaultlog.Check against the organisation, the order the
// entries before it impose (vaultlog.Tail: organisation positions and
// times never go back, each manifest version follows the one before). An
// entry whose manifests don't decrypt to what they claim is kept in the
// chain but quarantined (SECURITY.md A28).
func (l *Log) Apply(org *certificate.Organisation, keys *Keys, position uint64, data []byte) (*vaultlog.Entry, error) {
	if position != l.Head.Position+1 {
		return nil, fmt.Errorf("%w: position %d after %d", certificate.ErrChain, position, l.Head.Position)
	}
	e, err := vaultlog.ParseEntry(data)
	if err != nil {
		return nil, fmt.Errorf("vault entry %d: %w", position, err)
	}
	if err := vaultlog.Extends(l.Head, e); err != nil {
		return nil, fmt.Errorf("vault entry %d: %w", position, err)
	}
	if err := vaultlog.Check(org, l.VaultID, e); err != nil {
		return nil, fmt.Errorf("vault entry %d: %w", position, err)
	}
	if err := l.tail.Check(e); err != nil {
		return nil, fmt.Errorf("vault entry %d: %w", position, err)
	}
	key, ok := keys.Get(e.KeyIndex)
	if !ok {
		return nil, fmt.Errorf("vault entry %d: %w: key %d", position, ErrNoKey, e.KeyIndex)
	}
	d, _ := org.Device(e.Author)
	added, bad := l.open(e, key, d.UserID, position)
	if bad != nil {
		l.quarantined = append(l.quarantined, Quarantined{Position: position, Author: e.Author, User: d.UserID, Time: e.Time,
			Reason: fmt.Errorf("vault entry %d: %w", position, bad)})
	}
	for _, v := range added {
		l.versions[v.Manifest.ID] = append(l.versions[v.Manifest.ID], v)
	}
	l.tail.Fold(e)
	l.Head = certificate.Head{Position: position, Hash: vaultlog.EntryHash(l.Head.Hash, data)}
	l.hashes = append(l.hashes, l.Head.Hash)
	return e, nil
}

// open decrypts an entry's manifests (each write's in format 1, the
// entry's batch in format 2); if one fails, none of them is kept (an
// entry's writes go together) and the error says why.
func (l *Log) open(e *vaultlog.Entry, key crypto.SecretKey, userID string, position uint64) ([]Version, error) {
	var manifests []*Manifest
	if e.Format == vaultlog.FormatSeparate {
		for _, w := range e.Writes {
			m, err := decryptManifest(l.OrganisationID, l.VaultID, w, e.KeyIndex, key)
			if err != nil {
				return nil, err
			}
			manifests = append(manifests, m)
		}
	} else {
		var err error
		if manifests, err = openBatch(l.OrganisationID, l.VaultID, e, key); err != nil {
			return nil, err
		}
	}
	added := make([]Version, 0, len(manifests))
	root := RootID(l.VaultID) // a hash: once an entry, not twice a manifest
	for i, m := range manifests {
		if (m.ID == root) != (m.Parent == "") || (m.ID == root && !m.Folder) {
			return nil, fmt.Errorf("%w: %s has a bad parent", ErrBadManifest, m.ID)
		}
		added = append(added, Version{Manifest: m, Version: e.Writes[i].Version, Author: e.Author, User: userID, Time: e.Time, Position: position, KeyIndex: e.KeyIndex})
	}
	return added, nil
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
func (l *Log) NextVersion(id string) uint64 { return l.tail.NextVersion(id) }
