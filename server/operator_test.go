package server

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
	"github.com/coffre/coffre/server/store/boltstore"
)

// TestOperator runs the operator's commands through both Operators, the
// socket of a running server and the store directly, and checks that
// they do the same.
func TestOperator(t *testing.T) {
	t.Run("socket", func(t *testing.T) {
		st := openStore(t)
		blocks, err := blockdir.Open(filepath.Join(t.TempDir(), "blocks"))
		if err != nil {
			t.Fatal(err)
		}
		srv := New(Config{Store: st, Blocks: blocks, PublicAddress: "coffre.example.org:7443", Pin: "pinpinpin"})
		// A Unix socket's path must be short: not under t.TempDir().
		dir, err := os.MkdirTemp("", "coffre-op")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		lis, err := ListenOperator(filepath.Join(dir, "operator.sock"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.ServeOperator(ctx, lis) }()
		t.Cleanup(func() { cancel(); <-done })
		op, err := DialOperator(t.Context(), filepath.Join(dir, "operator.sock"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { op.Close() })
		testOperator(t, op, st)

		// A collection through the socket runs in the server, on its
		// block store: a block just put is within the grace period.
		orgs, err := st.Organisations(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := blocks.PutBlock(t.Context(), orgs[0].ID, "vault0001", "block0001", []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		for _, dry := range []bool{true, false} {
			col, err := op.CollectBlocks(t.Context(), dry)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Collection{DryRun: dry, Vaults: 1, Recent: 1}); col != want {
				t.Fatalf("CollectBlocks(dry run %v) = %+v, want %+v", dry, col, want)
			}
		}
	})
	t.Run("store", func(t *testing.T) {
		st := openStore(t)
		op := &StoreOperator{Store: st, LinkParams: func() (string, string, error) { return "coffre.example.org:7443", "pinpinpin", nil }}
		testOperator(t, op, st)
		if _, err := op.CollectBlocks(t.Context(), true); !errors.Is(err, ErrNoBlockCollection) {
			t.Fatalf("CollectBlocks without a block store: %v, want %v", err, ErrNoBlockCollection)
		}
	})
	if _, err := DialOperator(t.Context(), filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Error("DialOperator on a socket nobody serves succeeded")
	}
}

func openStore(t *testing.T) *boltstore.Store {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "coffre.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testOperator(t *testing.T, op Operator, st store.Store) {
	ctx := t.Context()
	created, err := op.CreateOrganisation(ctx, "Clinique du Parc")
	if err != nil {
		t.Fatal(err)
	}
	l, err := link.Parse(created.BootstrapLink)
	if err != nil {
		t.Fatalf("bootstrap link %q: %v", created.BootstrapLink, err)
	}
	if l.OrganisationID != created.ID || l.Kind != link.KindBootstrap || l.Address != "coffre.example.org:7443" || l.Pin != "pinpinpin" || len(l.Token) == 0 {
		t.Fatalf("bootstrap link %+v for organisation %s", l, created.ID)
	}
	if _, err := op.CreateOrganisation(ctx, ""); err == nil {
		t.Error("an organisation without a name was created")
	}

	if err := op.SetLimits(ctx, created.ID, store.Limits{StorageBytes: 1 << 30, Users: 12}); err != nil {
		t.Fatal(err)
	}
	if err := op.SetLimits(ctx, created.ID, store.Limits{Users: -1}); err == nil || !strings.Contains(err.Error(), ErrNegativeLimit.Error()) {
		t.Errorf("negative limit: got %v, want %v", err, ErrNegativeLimit)
	}
	if err := op.SetLimits(ctx, "nosuchorg", store.Limits{Users: 1}); err == nil {
		t.Error("limits set on an unknown organisation")
	}

	orgs, err := op.ListOrganisations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(orgs) != 1 {
		t.Fatalf("listed %d organisations, want 1", len(orgs))
	}
	o := orgs[0]
	if o.ID != created.ID || o.Name != "Clinique du Parc" || o.Bootstrapped || o.CreatedAt.IsZero() ||
		o.Limits != (store.Limits{StorageBytes: 1 << 30, Users: 12}) || o.UsedBytes != 0 {
		t.Fatalf("listed %+v", o)
	}

	var b bytes.Buffer
	if err := op.Backup(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if !boltstore.IsBackup(b.Bytes()) {
		t.Fatal("the backup is not a copy of the store")
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := boltstore.CheckBackup(path); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Organisation(ctx, created.ID); errors.Is(err, store.ErrNotFound) {
		t.Fatal("the organisation is not in the store")
	}
}
