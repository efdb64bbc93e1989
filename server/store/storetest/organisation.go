package storetest

import (
	"testing"

	"github.com/coffre/coffre/server/store"
)

func (s suite) testOrganisations(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	if orgs, err := st.Organisations(ctx); err != nil || len(orgs) != 0 {
		t.Fatalf("Organisations of an empty store = %v, %v; want none", orgs, err)
	}
	var created []store.Organisation
	for _, id := range []string{"charlie", "alpha", "bravo"} {
		created = append(created, mustOrg(t, st, id))
	}
	got, err := st.Organisation(ctx, "alpha")
	if err != nil {
		t.Fatalf("Organisation(alpha): %v", err)
	}
	if d := s.diffOrg(got, created[1]); d != "" {
		t.Fatalf("Organisation(alpha): %s", d)
	}
	if !got.BootstrappedAt.IsZero() || got.RootVerifyKey != nil {
		t.Fatalf("a new organisation has BootstrappedAt %v, RootVerifyKey %x; want zero, nil", got.BootstrappedAt, got.RootVerifyKey)
	}

	dup := newOrg("alpha")
	dup.Name = "Impostor"
	wantErr(t, "CreateOrganisation with a taken id", st.CreateOrganisation(ctx, dup), store.ErrExists)
	if got, _ := st.Organisation(ctx, "alpha"); got.Name != created[1].Name {
		t.Fatalf("a refused CreateOrganisation renamed alpha to %q", got.Name)
	}
	_, err = st.Organisation(ctx, "delta")
	wantErr(t, "Organisation(delta), never created", err, store.ErrNotFound)

	orgs, err := st.Organisations(ctx)
	if err != nil {
		t.Fatalf("Organisations: %v", err)
	}
	var ids []string
	for _, o := range orgs {
		ids = append(ids, o.ID)
	}
	if len(ids) != 3 || ids[0] != "alpha" || ids[1] != "bravo" || ids[2] != "charlie" {
		t.Fatalf("Organisations listed %q, want [alpha bravo charlie] (by id)", ids)
	}
	if d := s.diffOrg(orgs[2], created[0]); d != "" {
		t.Fatalf("Organisations: charlie: %s", d)
	}
}

func (s suite) testBootstrap(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	org := mustOrg(t, st, "org")
	root := []byte("root verify key")
	first := chain(store.Head{}, "admin user", "admin device")

	err := st.Bootstrap(ctx, "org", tokenHash("wrong token"), root, first, at(10))
	wantErr(t, "Bootstrap with a wrong token", err, store.ErrBadToken)
	s.wantOrg(t, st, "after Bootstrap with a wrong token", org)
	s.wantLog(t, st, orgLog("org"), "after Bootstrap with a wrong token", nil)

	bad := chain(store.Head{}, "admin user", "admin device")
	bad[1].Position = 3
	if err := st.Bootstrap(ctx, "org", org.BootstrapTokenHash, root, bad, at(10)); err == nil {
		t.Fatal("Bootstrap with entries at positions 1, 3 succeeded, want an error")
	}
	s.wantOrg(t, st, "after Bootstrap with a broken chain", org)
	s.wantLog(t, st, orgLog("org"), "after Bootstrap with a broken chain", nil)

	if err := st.Bootstrap(ctx, "org", org.BootstrapTokenHash, root, first, at(10)); err != nil {
		t.Fatalf("Bootstrap with the right token: %v", err)
	}
	done := org
	done.BootstrapTokenHash, done.RootVerifyKey, done.BootstrappedAt = nil, root, at(10)
	s.wantOrg(t, st, "after Bootstrap", done)
	s.wantLog(t, st, orgLog("org"), "after Bootstrap", first)

	for _, token := range [][]byte{org.BootstrapTokenHash, nil, {}} {
		err := st.Bootstrap(ctx, "org", token, []byte("another root"), chain(headOf(first), "x"), at(20))
		wantErr(t, "a second Bootstrap with token hash "+show(token), err, store.ErrBadToken)
	}
	s.wantOrg(t, st, "after a second Bootstrap", done)
	s.wantLog(t, st, orgLog("org"), "after a second Bootstrap", first)
}

func (s suite) wantOrg(t *testing.T, st store.Store, what string, want store.Organisation) {
	t.Helper()
	got, err := st.Organisation(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("%s: Organisation(%s): %v", what, want.ID, err)
	}
	if d := s.diffOrg(got, want); d != "" {
		t.Fatalf("%s: organisation %s: %s", what, want.ID, d)
	}
}
