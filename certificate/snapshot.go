package certificate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/coffre/coffre/crypto"
)

// A snapshot is the verified, folded state of an organisation at a head,
// encoded so that a device loads it instead of verifying its whole stored
// log again each time it opens (SPEC.md §9 "The organisation snapshot").
// It is not a format of the protocol: only the device that verified the
// state writes it, sealed under its own state key, and only that device
// reads it back. Nothing from the server ever goes through FromSnapshot.

// SnapshotVersion is the version of the snapshot encoding. Bump it
// whenever what the fold keeps changes (a field of Organisation, User,
// Device, Vault, KeyBundle, Grant or roleEvent, or what a statement folds
// into them; TestSnapshotCoversEveryField lists the fields): a device
// holding a snapshot of another version then verifies its stored log
// again, once, and writes a snapshot of this version.
const SnapshotVersion = 5

var (
	// ErrSnapshotVersion is returned by FromSnapshot for a snapshot of
	// another SnapshotVersion: verify the log again instead.
	ErrSnapshotVersion = errors.New("organisation snapshot of another version")
	// ErrSnapshot is returned by FromSnapshot for bytes that are not a
	// snapshot of this organisation and root key.
	ErrSnapshot = errors.New("organisation snapshot is not valid")
)

const snapshotMagic = "coffre/org-snapshot"

// Snapshot encodes the verified state. The result shares nothing with o.
func (o *Organisation) Snapshot() []byte {
	// Measured first, then written into a buffer of that size: the state
	// of a large organisation is megabytes, and growing it by appending
	// copies them again and again.
	size := snapWriter{counting: true}
	o.encodeSnapshot(&size)
	w := snapWriter{b: make([]byte, 0, size.n)}
	o.encodeSnapshot(&w)
	return w.b
}

func (o *Organisation) encodeSnapshot(w *snapWriter) {
	w.str(snapshotMagic)
	w.u(SnapshotVersion)
	w.str(o.ID)
	w.bytes(o.Root.Bytes())
	w.u(o.Head.Position)
	w.bytes(o.Head.Hash)
	w.time(o.lastTime)
	w.u(uint64(len(o.hashes)))
	for _, h := range o.hashes {
		w.bytes(h)
	}
	w.u(uint64(len(o.users)))
	for _, u := range o.users {
		w.str(u.ID, u.Name, u.Email)
		w.i(int64(u.Profile))
		w.sealKey(u.SealKey)
		w.bytes(u.IdentityCommitment)
		w.time(u.CreatedAt)
		w.str(u.CreatedBy)
		w.u(u.Position)
		w.u(u.RevokedAt)
		w.str(u.RevokedBy)
		w.time(u.RevokedOn)
		w.u(uint64(len(u.Rotations)))
		for _, r := range u.Rotations {
			w.u(r.Position)
			w.time(r.Time)
			w.bytes(r.Previous.Bytes())
			w.u(uint64(len(r.Sealed)))
			for _, d := range r.Sealed {
				w.str(d.DeviceID)
				w.bytes(d.Sealed)
			}
		}
	}
	w.u(uint64(len(o.devices)))
	for _, d := range o.devices {
		w.str(d.ID, d.UserID, d.Label)
		w.bytes(d.VerifyKey.Bytes())
		if d.HasSealKey() {
			w.sealKey(d.SealKey)
		} else {
			w.bytes(nil)
		}
		w.time(d.CreatedAt)
		w.str(d.CreatedBy)
		w.u(d.Position)
		w.u(d.RevokedAt)
		w.str(d.RevokedBy)
		w.time(d.RevokedOn)
	}
	w.u(uint64(len(o.vaults)))
	for _, v := range o.vaults {
		w.vault(v)
	}
	w.u(uint64(len(o.activeEmail)))
	for email, id := range o.activeEmail {
		w.str(email, id)
	}
	w.u(uint64(len(o.deviceCount)))
	for id, n := range o.deviceCount {
		w.str(id)
		w.i(int64(n))
	}
	w.u(uint64(len(o.exposedAt)))
	for id, p := range o.exposedAt {
		w.str(id)
		w.u(p)
	}
	w.u(uint64(len(o.sharedRecoveries)))
	for _, r := range o.sharedRecoveries {
		w.sharedRecovery(r)
	}
}

func (w *snapWriter) vault(v *Vault) {
	w.str(v.ID, v.CreatedBy)
	w.time(v.CreatedAt)
	w.u(v.Position)
	w.bytes(v.EncryptedName)
	w.u(uint64(v.NameKeyIndex))
	w.bool(v.Archived)
	w.u(uint64(len(v.Keys)))
	for _, k := range v.Keys {
		w.u(uint64(k.Index))
		w.u(uint64(len(k.Sealed)))
		for _, s := range k.Sealed {
			w.str(s.UserID)
			w.bytes(s.Sealed)
		}
		w.bytes(k.Canary, k.PreviousKeys, k.Commitment)
		w.u(k.Position)
	}
	w.u(uint64(len(v.grants)))
	for id, g := range v.grants {
		w.str(id)
		w.grant(g)
	}
	w.u(uint64(len(v.history)))
	for _, e := range v.history {
		w.u(e.position)
		w.time(e.time)
		w.grant(e.grant)
		w.bool(e.key != nil)
		if e.key != nil {
			w.u(uint64(e.key.Index))
			w.bytes(e.key.Sealed)
		}
		w.bool(e.released)
	}
	w.u(uint64(len(v.holders)))
	for id, held := range v.holders {
		w.str(id)
		w.bool(held)
	}
	w.bool(v.Policy != nil)
	if p := v.Policy; p != nil {
		w.str(p.VaultID)
		w.u(uint64(len(p.Invokers)))
		w.str(p.Invokers...)
		w.i(int64(p.InvokerProfile))
		w.str(p.OnCallVaultID)
		w.i(int64(p.Duration))
		w.str(p.Approver)
	}
	w.u(uint64(len(v.emergencies)))
	for _, e := range v.emergencies {
		w.str(e.VaultID)
		w.u(e.Position)
		w.str(e.UserID, e.Reason)
		w.time(e.Start)
		w.time(e.Until)
		w.bool(e.NeedsApproval)
		w.bool(e.Approved)
		w.str(e.ApprovedBy)
		w.time(e.ApprovedAt)
		w.bool(e.Released)
		w.str(e.ReleasedBy)
		w.time(e.ReleasedAt)
	}
	w.u(uint64(len(v.takeovers)))
	for _, t := range v.takeovers {
		w.u(t.Position)
		w.str(t.UserID, t.Reason)
		w.time(t.Time)
	}
}

func (w *snapWriter) grant(g Grant) {
	w.str(g.UserID)
	w.i(int64(g.Role))
	w.time(g.Until)
	w.u(g.Position)
	w.bool(g.Keyless)
}

// FromSnapshot decodes a snapshot written by Snapshot for the organisation
// id and root key (from the organisation link, as for NewOrganisation).
// data must come from where only this device writes, authenticated (its
// local state): the signatures and rules are not checked again, and seal
// keys are not validated again. The result keeps slices of data: the
// caller must not change data afterwards.
func FromSnapshot(id string, root crypto.VerifyKey, data []byte) (*Organisation, error) {
	r := snapReader{b: data}
	if r.str() != snapshotMagic {
		return nil, fmt.Errorf("%w: not a snapshot", ErrSnapshot)
	}
	if v := r.u(); r.err == nil && v != SnapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this is %d", ErrSnapshotVersion, v, SnapshotVersion)
	}
	if got := r.str(); r.err == nil && got != id {
		return nil, fmt.Errorf("%w: it is of organisation %q, not %q", ErrSnapshot, got, id)
	}
	if got := r.bytes(); r.err == nil && !bytes.Equal(got, root.Bytes()) {
		return nil, fmt.Errorf("%w: it is of another root key", ErrSnapshot)
	}
	o := NewOrganisation(id, root)
	o.Head.Position = r.u()
	o.Head.Hash = r.bytes()
	o.lastTime = r.time()
	o.hashes = make([][]byte, r.count(33))
	for i := range o.hashes {
		o.hashes[i] = r.bytes()
	}
	users := r.count(20)
	o.users = make(map[string]*User, users)
	block := make([]User, users) // one allocation, not one per user
	for i := range users {
		u := &block[i]
		u.ID, u.Name, u.Email = r.str(), r.str(), r.str()
		u.Profile = Profile(r.i())
		if k := r.bytes(); r.err == nil {
			if u.SealKey, r.err = crypto.SealPublicKeyFromVerified(k); r.err != nil {
				break
			}
		}
		if c := r.bytes(); len(c) > 0 {
			u.IdentityCommitment = c
		}
		u.CreatedAt, u.CreatedBy, u.Position = r.time(), r.str(), r.u()
		u.RevokedAt, u.RevokedBy, u.RevokedOn = r.u(), r.str(), r.time()
		for range r.count(4) {
			rot := SealKeyRotation{Position: r.u(), Time: r.time()}
			if k := r.bytes(); r.err == nil {
				if rot.Previous, r.err = crypto.SealPublicKeyFromVerified(k); r.err != nil {
					break
				}
			}
			for range r.count(2) {
				rot.Sealed = append(rot.Sealed, DeviceSealedKey{DeviceID: r.str(), Sealed: r.bytes()})
			}
			u.Rotations = append(u.Rotations, rot)
		}
		o.users[u.ID] = u
	}
	devices := r.count(40)
	o.devices = make(map[string]*Device, devices)
	dblock := make([]Device, devices)
	for i := range devices {
		d := &dblock[i]
		d.ID, d.UserID, d.Label = r.str(), r.str(), r.str()
		if k := r.bytes(); r.err == nil {
			if d.VerifyKey, r.err = crypto.ParseVerifyKey(k); r.err != nil {
				break
			}
		}
		if k := r.bytes(); r.err == nil && k != nil {
			if d.SealKey, r.err = crypto.SealPublicKeyFromVerified(k); r.err != nil {
				break
			}
		}
		d.CreatedAt, d.CreatedBy, d.Position = r.time(), r.str(), r.u()
		d.RevokedAt, d.RevokedBy, d.RevokedOn = r.u(), r.str(), r.time()
		o.devices[d.ID] = d
	}
	vaults := r.count(10)
	o.vaults = make(map[string]*Vault, vaults)
	for range vaults {
		v := r.vault()
		o.vaults[v.ID] = v
	}
	emails := r.count(2)
	o.activeEmail = make(map[string]string, emails)
	for range emails {
		o.activeEmail[r.str()] = r.str()
	}
	counts := r.count(2)
	o.deviceCount = make(map[string]int, counts)
	for range counts {
		o.deviceCount[r.str()] = int(r.i())
	}
	exposed := r.count(2)
	o.exposedAt = make(map[string]uint64, exposed)
	for range exposed {
		o.exposedAt[r.str()] = r.u()
	}
	recoveries := r.count(10)
	o.sharedRecoveries = make(map[string]*SharedRecovery, recoveries)
	for range recoveries {
		sr := r.sharedRecovery()
		o.sharedRecoveries[sr.UserID] = sr
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshot, r.err)
	}
	if err := o.checkSnapshot(id, root); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSnapshot, err)
	}
	return o, nil
}

func (r *snapReader) vault() *Vault {
	v := &Vault{}
	v.ID, v.CreatedBy, v.CreatedAt, v.Position = r.str(), r.str(), r.time(), r.u()
	v.EncryptedName, v.NameKeyIndex, v.Archived = r.bytes(), uint32(r.u()), r.bool()
	for range r.count(4) {
		k := KeyBundle{Index: uint32(r.u())}
		for range r.count(2) {
			k.Sealed = append(k.Sealed, SealedKey{UserID: r.str(), Sealed: r.bytes()})
		}
		k.Canary, k.PreviousKeys, k.Commitment, k.Position = r.bytes(), r.bytes(), r.bytes(), r.u()
		v.Keys = append(v.Keys, k)
	}
	grants := r.count(5)
	v.grants = make(map[string]Grant, grants)
	for range grants {
		v.grants[r.str()] = r.grant()
	}
	for range r.count(7) {
		e := roleEvent{position: r.u(), time: r.time(), grant: r.grant()}
		if r.bool() {
			e.key = &GrantKey{Index: uint32(r.u()), Sealed: r.bytes()}
		}
		e.released = r.bool()
		v.history = append(v.history, e)
	}
	holders := r.count(2)
	v.holders = make(map[string]bool, holders)
	for range holders {
		v.holders[r.str()] = r.bool()
	}
	if r.bool() {
		p := &EmergencyPolicy{VaultID: r.str()}
		for range r.count(1) {
			p.Invokers = append(p.Invokers, r.str())
		}
		p.InvokerProfile, p.OnCallVaultID = Profile(r.i()), r.str()
		p.Duration, p.Approver = time.Duration(r.i()), r.str()
		v.Policy = p
	}
	for range r.count(10) {
		e := Emergency{VaultID: r.str(), Position: r.u(), UserID: r.str(), Reason: r.str(), Start: r.time(), Until: r.time()}
		e.NeedsApproval, e.Approved, e.ApprovedBy, e.ApprovedAt = r.bool(), r.bool(), r.str(), r.time()
		e.Released, e.ReleasedBy, e.ReleasedAt = r.bool(), r.str(), r.time()
		v.emergencies = append(v.emergencies, e)
	}
	for range r.count(4) {
		v.takeovers = append(v.takeovers, Takeover{Position: r.u(), UserID: r.str(), Reason: r.str(), Time: r.time()})
	}
	return v
}

func (r *snapReader) grant() Grant {
	return Grant{UserID: r.str(), Role: Role(r.i()), Until: r.time(), Position: r.u(), Keyless: r.bool()}
}

// checkSnapshot checks what the rest of the package relies on without
// looking (a device's user exists, a vault has a key, the head is the
// chain's last hash): a snapshot is authenticated, so this guards against
// a bug in this file, not an attacker.
func (o *Organisation) checkSnapshot(id string, root crypto.VerifyKey) error {
	switch {
	case len(o.hashes) == 0 || uint64(len(o.hashes)) != o.Head.Position+1:
		return fmt.Errorf("%d chain hashes for head %d", len(o.hashes), o.Head.Position)
	case !bytes.Equal(o.hashes[0], Genesis(id, root)):
		return errors.New("the chain does not start at this organisation's genesis")
	case !bytes.Equal(o.hashes[o.Head.Position], o.Head.Hash):
		return errors.New("the head is not the chain's last hash")
	}
	for _, d := range o.devices {
		if _, ok := o.users[d.UserID]; !ok {
			return fmt.Errorf("device %q of unknown user %q", d.ID, d.UserID)
		}
	}
	for _, v := range o.vaults {
		if len(v.Keys) == 0 {
			return fmt.Errorf("vault %q without a key", v.ID)
		}
	}
	return nil
}

// snapWriter and snapReader: unsigned and signed varints, and byte strings
// prefixed by their length.

// A counting writer only adds up the size of what it would write.
type snapWriter struct {
	b        []byte
	counting bool
	n        int
	key      []byte // sealKey's scratch
}

func (w *snapWriter) u(v uint64) {
	if w.counting {
		w.n += varintLen(binary.AppendUvarint, v)
		return
	}
	w.b = binary.AppendUvarint(w.b, v)
}

func (w *snapWriter) i(v int64) {
	if w.counting {
		w.n += varintLen(binary.AppendVarint, v)
		return
	}
	w.b = binary.AppendVarint(w.b, v)
}

func varintLen[T uint64 | int64](put func([]byte, T) []byte, v T) int {
	var buf [binary.MaxVarintLen64]byte
	return len(put(buf[:0], v))
}

func (w *snapWriter) bytes(ps ...[]byte) {
	for _, p := range ps {
		w.u(uint64(len(p)))
		if w.counting {
			w.n += len(p)
		} else {
			w.b = append(w.b, p...)
		}
	}
}

// sealKey writes k as bytes(k.Bytes()) does, through one reused buffer:
// a snapshot holds a 1,217-byte key per user and per device, and each
// is written twice (counted, then written).
func (w *snapWriter) sealKey(k crypto.SealPublicKey) {
	w.key = k.AppendBytes(w.key[:0])
	w.bytes(w.key)
}

func (w *snapWriter) str(ss ...string) {
	for _, s := range ss {
		w.u(uint64(len(s)))
		if w.counting {
			w.n += len(s)
		} else {
			w.b = append(w.b, s...)
		}
	}
}

func (w *snapWriter) bool(v bool) {
	if v {
		w.u(1)
	} else {
		w.u(0)
	}
}

// time keeps the instant exactly; times in the state are UTC (Parse).
func (w *snapWriter) time(t time.Time) {
	if t.IsZero() {
		w.u(0)
		return
	}
	w.u(1)
	w.i(t.Unix())
	w.u(uint64(t.Nanosecond()))
}

// snapReader records its first error and returns zero values after it.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or malformed %s", what)
	}
}

func (r *snapReader) u() uint64 { return readVarint(r, binary.Uvarint) }
func (r *snapReader) i() int64  { return readVarint(r, binary.Varint) }

func readVarint[T uint64 | int64](r *snapReader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns nil for an empty string, as Parse does for an absent field.
func (r *snapReader) bytes() []byte {
	n := r.u()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("byte string")
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	if n == 0 {
		return nil
	}
	return p
}

func (r *snapReader) str() string { return string(r.bytes()) }

func (r *snapReader) bool() bool {
	switch r.u() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("boolean")
	return false
}

func (r *snapReader) time() time.Time {
	if !r.bool() {
		return time.Time{}
	}
	sec, nsec := r.i(), r.u()
	if nsec >= 1e9 {
		r.fail("time")
	}
	if r.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// count reads a number of items each at least min bytes long, refusing
// one the remaining bytes can't hold (no allocation from a bad count).
func (r *snapReader) count(min int) int {
	n := r.u()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/min) {
		r.fail("count")
		return 0
	}
	return int(n)
}
