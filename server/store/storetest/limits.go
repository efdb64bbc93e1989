package storetest

import (
	"sync"
	"testing"

	"github.com/coffre/coffre/server/store"
)

func (s suite) testLimits(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustOrg(t, st, "alpha")
	mustOrg(t, st, "bravo")
	if err := st.SetLimits(ctx, "alpha", store.Limits{StorageBytes: 1000, Users: 5}); err != nil {
		t.Fatalf("SetLimits: %v", err)
	}
	wantErr(t, "SetLimits of an unknown organisation", st.SetLimits(ctx, "delta", store.Limits{}), store.ErrNotFound)
	org, err := st.Organisation(ctx, "alpha")
	if err != nil || org.Limits != (store.Limits{StorageBytes: 1000, Users: 5}) || org.UsedBytes != 0 {
		t.Fatalf("limits read back as %+v, used %d (%v); want 1000 bytes, 5 users, 0 used", org.Limits, org.UsedBytes, err)
	}
	if used, err := st.ReserveStorage(ctx, "alpha", 600); err != nil || used != 600 {
		t.Fatalf("ReserveStorage(600) = %d, %v; want 600", used, err)
	}
	_, err = st.ReserveStorage(ctx, "alpha", 401)
	wantErr(t, "ReserveStorage over the quota", err, store.ErrQuotaExceeded)
	if used, err := st.ReserveStorage(ctx, "alpha", 400); err != nil || used != 1000 {
		t.Fatalf("ReserveStorage up to the quota = %d, %v; want 1000", used, err)
	}
	if used, err := st.ReserveStorage(ctx, "alpha", -300); err != nil || used != 700 {
		t.Fatalf("giving 300 bytes back = %d, %v; want 700", used, err)
	}
	// No quota: anything goes; usage is per organisation.
	if used, err := st.ReserveStorage(ctx, "bravo", 1<<40); err != nil || used != 1<<40 {
		t.Fatalf("ReserveStorage without a quota = %d, %v", used, err)
	}
	_, err = st.ReserveStorage(ctx, "delta", 1)
	wantErr(t, "ReserveStorage for an unknown organisation", err, store.ErrNotFound)
	if org, _ := st.Organisation(ctx, "alpha"); org.UsedBytes != 700 {
		t.Fatalf("alpha uses %d bytes, want 700", org.UsedBytes)
	}

	// Concurrent reservations never exceed the quota together.
	if err := st.SetLimits(ctx, "bravo", store.Limits{StorageBytes: (1 << 40) + 50}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.ReserveStorage(ctx, "bravo", 10); err == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if granted != 5 {
		t.Fatalf("%d of 20 concurrent reservations of 10 bytes fit in 50 bytes, want exactly 5", granted)
	}
}
