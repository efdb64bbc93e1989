package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

// newInvitation returns a pending user invitation created at(created).
func newInvitation(orgID, id string, created int) store.Invitation {
	return store.Invitation{
		ID: id, OrgID: orgID, TokenHash: tokenHash(orgID + "/" + id), Kind: "user", Email: id + "@example.org",
		Profile: "standard", CreatedBy: "admin-device", CreatedAt: at(created), ExpiresAt: at(created).Add(24 * time.Hour),
		State: store.InvitationPending,
	}
}

func (s suite) wantInvitation(t *testing.T, st store.Store, what string, want store.Invitation) {
	t.Helper()
	got, err := st.Invitation(t.Context(), want.OrgID, want.ID)
	if err != nil {
		t.Fatalf("%s: Invitation(%s): %v", what, want.ID, err)
	}
	if d := s.diffInvitation(got, want); d != "" {
		t.Fatalf("%s: invitation %s: %s", what, want.ID, d)
	}
}

func (s suite) testInvitations(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	if invs, err := st.Invitations(ctx, "org"); err != nil || len(invs) != 0 {
		t.Fatalf("Invitations of a new organisation = %v, %v; want none", invs, err)
	}
	// Created out of id order, to tell "oldest first" from "by id".
	a, b, c := newInvitation("org", "a", 30), newInvitation("org", "b", 10), newInvitation("org", "c", 20)
	c.Kind, c.Email, c.Profile, c.UserID, c.Attempts = "device", "", "", "user-7", 2
	for _, inv := range []store.Invitation{a, b, c} {
		if err := st.CreateInvitation(ctx, inv); err != nil {
			t.Fatalf("CreateInvitation(%s): %v", inv.ID, err)
		}
	}
	s.wantInvitation(t, st, "after CreateInvitation", c)

	got, err := st.InvitationByToken(ctx, "org", a.TokenHash)
	if err != nil {
		t.Fatalf("InvitationByToken(a's hash): %v", err)
	}
	if d := s.diffInvitation(got, a); d != "" {
		t.Fatalf("InvitationByToken(a's hash): %s", d)
	}

	invs, err := st.Invitations(ctx, "org")
	if err != nil {
		t.Fatalf("Invitations: %v", err)
	}
	want := []store.Invitation{b, c, a}
	if len(invs) != len(want) {
		t.Fatalf("Invitations listed %d, want %d", len(invs), len(want))
	}
	for i := range want {
		if d := s.diffInvitation(invs[i], want[i]); d != "" {
			t.Fatalf("Invitations[%d], want %s (oldest first): %s", i, want[i].ID, d)
		}
	}

	dup := newInvitation("org", "a", 40)
	dup.TokenHash = tokenHash("another token")
	wantErr(t, "CreateInvitation with a taken id", st.CreateInvitation(ctx, dup), store.ErrExists)
	s.wantInvitation(t, st, "after a refused CreateInvitation", a)
	_, err = st.Invitation(ctx, "org", "d")
	wantErr(t, "Invitation(d), never created", err, store.ErrNotFound)
	_, err = st.InvitationByToken(ctx, "org", tokenHash("unknown token"))
	wantErr(t, "InvitationByToken with an unknown hash", err, store.ErrNotFound)
}

func (s suite) testUpdateInvitation(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "org")
	inv := newInvitation("org", "inv", 1)
	if err := st.CreateInvitation(ctx, inv); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}

	errNo := errors.New("fn refuses")
	_, err := st.UpdateInvitation(ctx, "org", "inv", func(i *store.Invitation) error {
		i.State, i.Attempts = store.InvitationBurned, 99
		return errNo
	})
	wantErr(t, "UpdateInvitation whose fn fails", err, errNo)
	s.wantInvitation(t, st, "after UpdateInvitation whose fn failed", inv)

	want := inv
	want.Attempts, want.State = 1, store.InvitationBurned
	got, err := st.UpdateInvitation(ctx, "org", "inv", func(i *store.Invitation) error {
		if d := s.diffInvitation(*i, inv); d != "" {
			t.Errorf("UpdateInvitation gave fn an invitation whose %s", d)
		}
		i.Attempts++
		i.State = store.InvitationBurned
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateInvitation: %v", err)
	}
	if d := s.diffInvitation(got, want); d != "" {
		t.Fatalf("UpdateInvitation returned an invitation whose %s", d)
	}
	s.wantInvitation(t, st, "after UpdateInvitation", want)

	_, err = st.UpdateInvitation(ctx, "org", "nope", func(*store.Invitation) error {
		t.Error("UpdateInvitation called fn for an unknown invitation")
		return nil
	})
	wantErr(t, "UpdateInvitation of an unknown invitation", err, store.ErrNotFound)
}
