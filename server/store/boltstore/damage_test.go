package boltstore

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/coffre/coffre/server/store"
)

// TestMissingBucket deletes each bucket CreateOrganisation makes from one
// organisation and checks that every call needing it is ErrCorrupt for that
// organisation (it was a nil dereference, which stopped the whole server)
// while the other organisation is served as before (SECURITY.md A39).
func TestMissingBucket(t *testing.T) {
	now := time.Now()
	entry := func(pos uint64) []store.LogEntry {
		return []store.LogEntry{{Position: pos, Hash: []byte("hash"), PrevHash: []byte("hash"), Data: []byte("data"), ReceivedAt: now}}
	}
	calls := []struct {
		name  string
		needs string // the bucket it reads or writes
		call  func(ctx context.Context, s *Store, org string) error
	}{
		{"RecordConnection", "connections", func(ctx context.Context, s *Store, org string) error {
			_, err := s.RecordConnection(ctx, org, store.Connection{DeviceID: "dev", Time: now, Address: "addr"})
			return err
		}},
		{"RecordConnection", "connections-by-time", func(ctx context.Context, s *Store, org string) error {
			_, err := s.RecordConnection(ctx, org, store.Connection{DeviceID: "dev", Time: now, Address: "addr"})
			return err
		}},
		{"Connections of a device", "connections", func(ctx context.Context, s *Store, org string) error {
			_, err := s.Connections(ctx, org, "dev", 10)
			return err
		}},
		{"Connections of all", "connections-by-time", func(ctx context.Context, s *Store, org string) error {
			_, err := s.Connections(ctx, org, "", 10)
			return err
		}},
		{"CreateInvitation", "invitations", func(ctx context.Context, s *Store, org string) error {
			return s.CreateInvitation(ctx, store.Invitation{ID: "new", OrgID: org, TokenHash: []byte("new"), State: store.InvitationPending})
		}},
		{"CreateInvitation", "invitation-tokens", func(ctx context.Context, s *Store, org string) error {
			return s.CreateInvitation(ctx, store.Invitation{ID: "new", OrgID: org, TokenHash: []byte("new"), State: store.InvitationPending})
		}},
		{"Invitation", "invitations", func(ctx context.Context, s *Store, org string) error {
			_, err := s.Invitation(ctx, org, "inv")
			return err
		}},
		{"InvitationByToken", "invitation-tokens", func(ctx context.Context, s *Store, org string) error {
			_, err := s.InvitationByToken(ctx, org, []byte("token"))
			return err
		}},
		{"Invitations", "invitations", func(ctx context.Context, s *Store, org string) error {
			_, err := s.Invitations(ctx, org)
			return err
		}},
		{"UpdateInvitation", "invitations", func(ctx context.Context, s *Store, org string) error {
			_, err := s.UpdateInvitation(ctx, org, "inv", func(*store.Invitation) error { return nil })
			return err
		}},
		{"AppendLog", "log", func(ctx context.Context, s *Store, org string) error {
			_, err := s.AppendLog(ctx, org, entry(2), "", now)
			return err
		}},
		{"ReadLog", "log", func(ctx context.Context, s *Store, org string) error {
			_, err := s.ReadLog(ctx, org, 1, 10)
			return err
		}},
		{"LogHead", "log", func(ctx context.Context, s *Store, org string) error {
			_, err := s.LogHead(ctx, org)
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name+"/without-"+c.needs, func(t *testing.T) {
			s := mustOpen(t, filepath.Join(t.TempDir(), "coffre.db"))
			ctx := t.Context()
			for _, org := range []string{"damaged", "intact"} {
				if err := s.CreateOrganisation(ctx, store.Organisation{ID: org, CreatedAt: now}); err != nil {
					t.Fatal(err)
				}
				if err := s.CreateInvitation(ctx, store.Invitation{ID: "inv", OrgID: org, TokenHash: []byte("token"), State: store.InvitationPending}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.AppendLog(ctx, org, entry(1), "", now); err != nil {
					t.Fatal(err)
				}
			}
			err := s.db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketOrg).Bucket([]byte("damaged")).DeleteBucket([]byte(c.needs))
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.call(ctx, s, "damaged"); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("%s without the %s bucket: %v, want ErrCorrupt", c.name, c.needs, err)
			}
			if err := c.call(ctx, s, "intact"); err != nil {
				t.Errorf("%s of the intact organisation: %v", c.name, err)
			}
		})
	}
}

// TestTokenIndexOfAnotherInvitation: a token index entry naming another
// invitation must not hand that invitation to the holder of this token.
func TestTokenIndexOfAnotherInvitation(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "coffre.db"))
	ctx := t.Context()
	if err := s.CreateOrganisation(ctx, store.Organisation{ID: "org", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"one", "two"} {
		if err := s.CreateInvitation(ctx, store.Invitation{ID: id, OrgID: "org", TokenHash: []byte("token " + id), State: store.InvitationPending}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOrg).Bucket([]byte("org")).Bucket(bucketInvTok).Put([]byte("token one"), []byte("two"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if inv, err := s.InvitationByToken(ctx, "org", []byte("token one")); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("InvitationByToken through an index naming another invitation: %+v, %v; want ErrCorrupt", inv, err)
	}
}

func FuzzDecodeInvitation(f *testing.F) {
	v, err := encodeInvitation(store.Invitation{ID: "inv", TokenHash: []byte("hash"), Kind: "user", State: store.InvitationPending, CreatedAt: time.Now()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Add([]byte(`{"state":"spent"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		inv, err := decodeInvitation("org", "inv", v)
		if err != nil {
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("decoding %q: %v, not ErrCorrupt", v, err)
			}
			return
		}
		again, err := encodeInvitation(inv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeInvitation("org", "inv", again); err != nil {
			t.Fatalf("re-encoding %q gives %q, which does not decode: %v", v, again, err)
		}
	})
}

func FuzzDecodeOrg(f *testing.F) {
	v, err := encodeOrg(store.Organisation{ID: "org", Name: "name", RootVerifyKey: []byte("key"), CreatedAt: time.Now()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Fuzz(func(t *testing.T, v []byte) {
		if _, err := decodeOrg("org", v); err != nil && !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("decoding %q: %v, not ErrCorrupt", v, err)
		}
	})
}
