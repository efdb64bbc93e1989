package boltstore

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/server/store"
)

const mib = 1 << 20

// creditStore opens a store with one organisation whose quota is limit
// bytes (0: none).
func creditStore(t *testing.T, path string, limit int64) *Store {
	t.Helper()
	s := mustOpen(t, path)
	if err := s.CreateOrganisation(t.Context(), store.Organisation{ID: "org", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLimits(t.Context(), "org", store.Limits{StorageBytes: limit}); err != nil {
		t.Fatal(err)
	}
	return s
}

func wantUsed(t *testing.T, s *Store, want int64) {
	t.Helper()
	org, err := s.Organisation(t.Context(), "org")
	if err != nil || org.UsedBytes != want {
		t.Fatalf("usage %d (%v), want %d", org.UsedBytes, err, want)
	}
}

// TestCreditKeepsTheQuota: reservations taken from the credit never add
// up to more than the quota, and the usage reported is what was reserved
// for blocks, not the credit.
func TestCreditKeepsTheQuota(t *testing.T) {
	s := creditStore(t, filepath.Join(t.TempDir(), "coffre.db"), 40*mib)
	granted := 0
	for range 50 {
		if _, err := s.ReserveStorage(t.Context(), "org", mib); err == nil {
			granted++
		} else if !errors.Is(err, store.ErrQuotaExceeded) {
			t.Fatal(err)
		}
	}
	if granted != 40 {
		t.Fatalf("%d reservations of 1 MiB granted under a quota of 40 MiB, want 40", granted)
	}
	wantUsed(t, s, 40*mib)
}

// TestCreditGivenBackBeforeRefusing: a reservation that fits beside what
// is stored is granted though the credit, counted, would not let it; a
// limit set below the credit holds from then on.
func TestCreditGivenBackBeforeRefusing(t *testing.T) {
	s := creditStore(t, filepath.Join(t.TempDir(), "coffre.db"), 40*mib)
	if _, err := s.ReserveStorage(t.Context(), "org", mib); err != nil {
		t.Fatal(err)
	}
	if s.credit.get("org") == 0 {
		t.Fatal("no credit taken by the first reservation")
	}
	// 1 MiB stored + 35 MiB fit in 40, with the credit counted they don't.
	if _, err := s.ReserveStorage(t.Context(), "org", 35*mib); err != nil {
		t.Fatalf("a reservation that fits beside what is stored: %v", err)
	}
	wantUsed(t, s, 36*mib)

	u := creditStore(t, filepath.Join(t.TempDir(), "coffre.db"), 0)
	if _, err := u.ReserveStorage(t.Context(), "org", mib); err != nil {
		t.Fatal(err)
	}
	if err := u.SetLimits(t.Context(), "org", store.Limits{StorageBytes: 2 * mib}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.ReserveStorage(t.Context(), "org", mib); err != nil {
		t.Fatalf("1 MiB beside 1 MiB stored, under a limit of 2: %v", err)
	}
	if _, err := u.ReserveStorage(t.Context(), "org", mib); !errors.Is(err, store.ErrQuotaExceeded) {
		t.Fatalf("beyond a limit set below the credit: %v, want ErrQuotaExceeded", err)
	}
	wantUsed(t, u, 2*mib)
}

// TestCreditGivenBackAtClose: the stored usage, reopened after Close, is
// what was reserved for blocks.
func TestCreditGivenBackAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffre.db")
	s := creditStore(t, path, 0)
	for range 3 {
		if _, err := s.ReserveStorage(t.Context(), "org", mib); err != nil {
			t.Fatal(err)
		}
	}
	wantUsed(t, s, 3*mib) // the credit left out
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wantUsed(t, mustOpen(t, path), 3*mib)
}
