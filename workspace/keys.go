package workspace

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
)

// ErrNoKey is returned when this user holds no key of a vault: not a
// member, or a key that does not open.
var ErrNoKey = errors.New("no key for this vault")

const (
	sealContext   = "vault-key"
	canaryText    = "coffre vault key canary"
	labelManifest = "manifest"
	labelName     = "vault-name"
)

func u32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// aad builds associated data that binds a ciphertext to where it belongs
// (SECURITY.md A3): the purpose and every id around it.
func aad(purpose string, parts ...[]byte) []byte {
	d := crypto.LabeledSum("aad/"+purpose, parts...)
	return d[:]
}

func sealAAD(orgID, vaultID string, index uint32, userID string) []byte {
	return aad("vault-key", []byte(orgID), []byte(vaultID), u32(index), []byte(userID))
}

func canaryAAD(orgID, vaultID string, index uint32) []byte {
	return aad("canary", []byte(orgID), []byte(vaultID), u32(index))
}

func previousAAD(orgID, vaultID string, index uint32) []byte {
	return aad("previous-keys", []byte(orgID), []byte(vaultID), u32(index))
}

func nameAAD(orgID, vaultID string, index uint32) []byte {
	return aad("vault-name", []byte(orgID), []byte(vaultID), u32(index))
}

// KeyCommitment commits to vault key index (SPEC.md §11.2). It is signed in
// the key's bundle, so a signer can't give two members two keys that both
// pass (SECURITY.md A34): XChaCha20-Poly1305 is not key-committing, and a
// canary can be crafted to open under two keys.
func KeyCommitment(orgID, vaultID string, index uint32, key crypto.SecretKey) []byte {
	d := crypto.LabeledSum("vault-key-commitment", []byte(orgID), []byte(vaultID), u32(index), key.Bytes())
	return d[:]
}

func committed(orgID, vaultID string, b certificate.KeyBundle, key crypto.SecretKey) bool {
	return subtle.ConstantTimeCompare(KeyCommitment(orgID, vaultID, b.Index, key), b.Commitment) == 1
}

// NewKeyBundle makes vault key `index`, sealed to each of members, with
// its canary and, encrypted under it, every older key (SPEC.md §11.2).
func NewKeyBundle(orgID, vaultID string, index uint32, members []*certificate.User, older []crypto.SecretKey) (crypto.SecretKey, certificate.KeyBundle, error) {
	key := crypto.NewSecretKey()
	b := certificate.KeyBundle{
		Index:      index,
		Canary:     key.Encrypt(canaryAAD(orgID, vaultID, index), []byte(canaryText)),
		Commitment: KeyCommitment(orgID, vaultID, index, key),
	}
	sealed, err := sealToAll(orgID, vaultID, index, members, key)
	if err != nil {
		return crypto.SecretKey{}, b, err
	}
	b.Sealed = sealed
	if len(older) > 0 {
		var all []byte
		for _, k := range older {
			all = append(all, k.Bytes()...)
		}
		b.PreviousKeys = key.Encrypt(previousAAD(orgID, vaultID, index), all)
	}
	return key, b, nil
}

// sealToAll seals key to every member, in members' order. A rotation in a
// vault of 1,000 members is 1,000 X-Wing encapsulations, the bulk of an
// unshare's CPU: they run on every core.
func sealToAll(orgID, vaultID string, index uint32, members []*certificate.User, key crypto.SecretKey) ([]certificate.SealedKey, error) {
	if len(members) == 0 {
		return nil, nil
	}
	out := make([]certificate.SealedKey, len(members))
	errs := make([]error, len(members))
	certificate.Parallel(len(members), func(i int) {
		m := members[i]
		sealed, err := SealKeyTo(orgID, vaultID, index, m, key)
		out[i], errs[i] = certificate.SealedKey{UserID: m.ID, Sealed: sealed}, err
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// SealKeyTo seals a vault key to one user's seal key from the verified log
// (never from the server: SECURITY.md A5).
func SealKeyTo(orgID, vaultID string, index uint32, u *certificate.User, key crypto.SecretKey) ([]byte, error) {
	return crypto.SealTo(u.SealKey, sealContext, sealAAD(orgID, vaultID, index, u.ID), key.Bytes())
}

// Keys are the keys of one vault this user can open, by index.
type Keys struct {
	keys map[uint32]crypto.SecretKey
}

// Newest returns the newest key and its index.
func (k *Keys) Newest() (uint32, crypto.SecretKey) {
	var n uint32
	for i := range k.keys {
		n = max(n, i)
	}
	return n, k.keys[n]
}

// Get returns key index i.
func (k *Keys) Get(i uint32) (crypto.SecretKey, bool) {
	key, ok := k.keys[i]
	return key, ok
}

// OpenKeys opens the keys of a vault for a user: the newest key sealed to
// them (in a key bundle or in the grant that made them a member), checked
// against the bundle's commitment and canary, then every older key from
// the bundle's previous keys, each checked against its own bundle's
// commitment: every member who opens key i holds the same key i.
func OpenKeys(org *certificate.Organisation, v *certificate.Vault, userID string, seal *crypto.SealKey) (*Keys, error) {
	type offer struct {
		index  uint32
		sealed []byte
	}
	var best *offer
	for _, b := range v.Keys {
		for _, s := range b.Sealed {
			if s.UserID == userID && (best == nil || b.Index >= best.index) {
				best = &offer{b.Index, s.Sealed}
			}
		}
	}
	for _, g := range grantKeys(v, userID) {
		if best == nil || g.index >= best.index {
			best = &offer{g.index, g.sealed}
		}
	}
	if best == nil {
		return nil, ErrNoKey
	}
	raw, err := seal.Open(sealContext, sealAAD(org.ID, v.ID, best.index, userID), best.sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: the sealed key does not open", ErrNoKey)
	}
	key, err := crypto.ParseSecretKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	bundle := v.Keys[best.index-1]
	if !committed(org.ID, v.ID, bundle, key) {
		return nil, fmt.Errorf("%w: key %d is not the key its bundle commits to", ErrNoKey, best.index)
	}
	if _, err := key.Decrypt(canaryAAD(org.ID, v.ID, best.index), bundle.Canary); err != nil {
		return nil, fmt.Errorf("%w: key %d fails its canary", ErrNoKey, best.index)
	}
	keys := &Keys{keys: map[uint32]crypto.SecretKey{best.index: key}}
	if best.index > 1 {
		all, err := key.Decrypt(previousAAD(org.ID, v.ID, best.index), bundle.PreviousKeys)
		const size = 33
		if err != nil || len(all) != int(best.index-1)*size {
			return nil, fmt.Errorf("%w: previous keys of key %d do not open", ErrNoKey, best.index)
		}
		for i := uint32(1); i < best.index; i++ {
			k, err := crypto.ParseSecretKey(all[(i-1)*size : i*size])
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
			}
			if !committed(org.ID, v.ID, v.Keys[i-1], k) {
				return nil, fmt.Errorf("%w: key %d is not the key its bundle commits to", ErrNoKey, i)
			}
			keys.keys[i] = k
		}
	}
	return keys, nil
}

type grantKey struct {
	index  uint32
	sealed []byte
}

// grantKeys lists the keys sealed to a user in the grants that made them
// a member, which the Vault keeps in its role history.
func grantKeys(v *certificate.Vault, userID string) []grantKey {
	var out []grantKey
	for _, g := range v.GrantKeys(userID) {
		out = append(out, grantKey{g.Index, g.Sealed})
	}
	return out
}

// EncryptName encrypts a vault's name with key index.
func EncryptName(orgID, vaultID string, index uint32, key crypto.SecretKey, name string) []byte {
	k := crypto.DeriveKey(key.Bytes(), labelName, nil)
	return k.Encrypt(nameAAD(orgID, vaultID, index), []byte(name))
}

// DecryptName decrypts a vault's name.
func DecryptName(orgID string, v *certificate.Vault, keys *Keys) (string, error) {
	key, ok := keys.Get(v.NameKeyIndex)
	if !ok {
		return "", ErrNoKey
	}
	k := crypto.DeriveKey(key.Bytes(), labelName, nil)
	name, err := k.Decrypt(nameAAD(orgID, v.ID, v.NameKeyIndex), v.EncryptedName)
	return string(name), err
}
