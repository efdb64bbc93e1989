package certificate

import (
	"fmt"
	"testing"
	"time"

	"github.com/coffre/coffre/crypto"
)

// largeLog signs the log of an organisation of n users with a device
// each, made by its first admin, as the bench's firstsync case makes it.
func largeLog(tb testing.TB, n int) (*Organisation, []Entry) {
	tb.Helper()
	root, err := crypto.GenerateSigningKey()
	if err != nil {
		tb.Fatal(err)
	}
	org := NewOrganisation(NewID(), root.Public())
	state := org.Clone()
	now := time.Unix(1_800_000_000, 0)
	var entries []Entry
	add := func(key *crypto.SigningKey, author string, m member, email string, p Profile) {
		certs, err := state.SignNext(key, author, now,
			UserCreated{UserID: m.user, Name: email, Email: email, Profile: p, SealKey: m.seal},
			DeviceAdded{DeviceID: m.device, UserID: m.user, Label: "device", VerifyKey: m.key.Public()})
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range certs {
			p := state.Head.Position + 1
			if _, err := state.Apply(p, c); err != nil {
				tb.Fatal(err)
			}
			entries = append(entries, Entry{Position: p, Data: c})
		}
	}
	admin := newMember(tb)
	add(root, "", admin, "admin@example.org", ProfileAdmin)
	for i := range n - 1 {
		add(admin.key, admin.device, newMember(tb), fmt.Sprintf("user%05d@example.org", i), ProfileStandard)
	}
	return org, entries
}

// BenchmarkFirstSyncFold is the certificate side of a new device's first
// sync (the bench's firstsync case, at a fifth of its size): the log
// applied in pages of 1,000 entries, then the snapshot encoded. Its CPU
// profile, beside the signatures' share, shows what else that costs.
func BenchmarkFirstSyncFold(b *testing.B) {
	org, entries := largeLog(b, 2000)
	b.ResetTimer()
	for range b.N {
		o := org.Clone()
		for i := 0; i < len(entries); i += 1000 {
			if _, err := o.ApplyAll(entries[i:min(i+1000, len(entries))]); err != nil {
				b.Fatal(err)
			}
		}
		o.Snapshot()
	}
}
