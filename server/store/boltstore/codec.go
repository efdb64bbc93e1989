package boltstore

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coffre/coffre/server/store"
)

// Times are stored as Unix nanoseconds; 0 is the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// orgRecord is an Organisation as stored; its id is the key.
type orgRecord struct {
	Name               string `json:"name"`
	BootstrapTokenHash []byte `json:"bootstrap_token_hash,omitempty"`
	RootVerifyKey      []byte `json:"root_verify_key,omitempty"`
	CreatedAt          int64  `json:"created_at"`
	BootstrappedAt     int64  `json:"bootstrapped_at,omitempty"`
	StorageLimit       int64  `json:"storage_limit,omitempty"`
	UserLimit          int    `json:"user_limit,omitempty"`
	UsedBytes          int64  `json:"used_bytes,omitempty"`
}

func encodeOrg(o store.Organisation) ([]byte, error) {
	return json.Marshal(orgRecord{o.Name, o.BootstrapTokenHash, o.RootVerifyKey, nanos(o.CreatedAt), nanos(o.BootstrappedAt),
		o.Limits.StorageBytes, o.Limits.Users, o.UsedBytes})
}

func decodeOrg(id string, v []byte) (store.Organisation, error) {
	var r orgRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Organisation{}, fmt.Errorf("decoding organisation %s: %w: %w", id, store.ErrCorrupt, err)
	}
	return store.Organisation{
		ID: id, Name: r.Name, BootstrapTokenHash: r.BootstrapTokenHash, RootVerifyKey: r.RootVerifyKey,
		CreatedAt: fromNanos(r.CreatedAt), BootstrappedAt: fromNanos(r.BootstrappedAt),
		Limits: store.Limits{StorageBytes: r.StorageLimit, Users: r.UserLimit}, UsedBytes: r.UsedBytes,
	}, nil
}

// invitationRecord is an Invitation as stored; its id is the key and its
// organisation the enclosing bucket.
type invitationRecord struct {
	TokenHash []byte                `json:"token_hash"`
	Kind      string                `json:"kind"`
	Email     string                `json:"email,omitempty"`
	UserID    string                `json:"user_id,omitempty"`
	Profile   string                `json:"profile,omitempty"`
	CreatedBy string                `json:"created_by"`
	CreatedAt int64                 `json:"created_at"`
	ExpiresAt int64                 `json:"expires_at"`
	State     store.InvitationState `json:"state"`
	Attempts  int                   `json:"attempts,omitempty"`
}

func encodeInvitation(i store.Invitation) ([]byte, error) {
	return json.Marshal(invitationRecord{
		i.TokenHash, i.Kind, i.Email, i.UserID, i.Profile, i.CreatedBy,
		nanos(i.CreatedAt), nanos(i.ExpiresAt), i.State, i.Attempts,
	})
}

func decodeInvitation(orgID, id string, v []byte) (store.Invitation, error) {
	var r invitationRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Invitation{}, fmt.Errorf("decoding invitation %s: %w: %w", id, store.ErrCorrupt, err)
	}
	switch r.State {
	case store.InvitationPending, store.InvitationSpent, store.InvitationCancelled, store.InvitationBurned:
	default:
		return store.Invitation{}, fmt.Errorf("invitation %s in state %q: %w", id, r.State, store.ErrCorrupt)
	}
	return store.Invitation{
		ID: id, OrgID: orgID, TokenHash: r.TokenHash, Kind: r.Kind, Email: r.Email, UserID: r.UserID,
		Profile: r.Profile, CreatedBy: r.CreatedBy, CreatedAt: fromNanos(r.CreatedAt),
		ExpiresAt: fromNanos(r.ExpiresAt), State: r.State, Attempts: r.Attempts,
	}, nil
}

// A log entry is stored under its big-endian position as
//
//	uvarint len(PrevHash) | PrevHash | uvarint len(Hash) | Hash | int64 ReceivedAt | Data
//
// so that Data, the signed bytes, is kept exactly and without base64.
func encodeEntry(e store.LogEntry) []byte {
	b := make([]byte, 0, 2*binary.MaxVarintLen64+len(e.PrevHash)+len(e.Hash)+8+len(e.Data))
	b = binary.AppendUvarint(b, uint64(len(e.PrevHash)))
	b = append(b, e.PrevHash...)
	b = binary.AppendUvarint(b, uint64(len(e.Hash)))
	b = append(b, e.Hash...)
	b = binary.BigEndian.AppendUint64(b, uint64(nanos(e.ReceivedAt)))
	return append(b, e.Data...)
}

// decodeEntry copies out of v, which bbolt only lends for the transaction.
func decodeEntry(k, v []byte) (store.LogEntry, error) {
	if len(k) != 8 {
		return store.LogEntry{}, fmt.Errorf("log entry key %x: %w", k, store.ErrCorrupt)
	}
	e := store.LogEntry{Position: binary.BigEndian.Uint64(k)}
	bad := false
	field := func() []byte {
		n, w := binary.Uvarint(v)
		// Only the shortest encoding of a length is valid: one entry has
		// one encoding.
		var short [binary.MaxVarintLen64]byte
		if w <= 0 || w != binary.PutUvarint(short[:], n) || n > uint64(len(v)-w) {
			bad = true
			return nil
		}
		f := append([]byte(nil), v[w:w+int(n)]...)
		v = v[w+int(n):]
		return f
	}
	e.PrevHash, e.Hash = field(), field()
	if bad || len(v) < 8 {
		return store.LogEntry{}, fmt.Errorf("log entry at position %d: %w", e.Position, store.ErrCorrupt)
	}
	e.ReceivedAt = fromNanos(int64(binary.BigEndian.Uint64(v)))
	e.Data = append([]byte(nil), v[8:]...)
	return e, nil
}
