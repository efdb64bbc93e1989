package adversarial

import (
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// TestA28OneWriterCannotBreakTheVault: a contributor's own client, through
// the honest server, tries to append entries that every reader would
// refuse — dated before the previous entry, claiming an older
// organisation position than it, or skipping a manifest version. The
// server refuses each (it checks every rule it can see in clear), so the
// stored log stays one that readers accept. Then the contributor appends
// an entry whose manifests are garbage under the real key (the server
// can't see that): readers quarantine it, attributed to its signer, and
// go on syncing the entries after it (SECURITY.md A28; SPEC.md §11.5).
func TestA28OneWriterCannotBreakTheVault(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a28",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	mustSync(t, w.sess["carol"])
	early := w.sess["carol"].Organisation().Clone()
	if err := w.sess["alice"].RenameVault(bg(), w.vault, "a28, renamed"); err != nil {
		t.Fatal(err)
	}
	av := w.open(t, "alice")
	put(t, av, "/a.txt", []byte("alice's"))
	cv := w.open(t, "carol")
	carol := w.dev["carol"]
	api := w.s.Dial(t, carol.Signer())
	state := w.s.LogState(t, w.org)
	index, key := w.keys(t, "carol").Newest()
	if early.Head.Position >= av.Log().LastOrganisationPosition() {
		t.Fatalf("the last entry claims %d, not after %d", av.Log().LastOrganisationPosition(), early.Head.Position)
	}
	draft := func(org *certificate.Organisation, name string) *coffrev1.VaultEntry {
		body := w.draftEntry(t, org, carol.DeviceID, index)
		body.Writes = w.addFile(t, cv.Log(), index, key, name)
		return body
	}
	last, _ := av.Stat("/a.txt", zeroTime)
	for name, body := range map[string]*coffrev1.VaultEntry{
		"dated before the previous entry": func() *coffrev1.VaultEntry {
			b := draft(state, "early.txt")
			b.TimestampMs = last.Time.Add(-time.Minute).UnixMilli()
			return b
		}(),
		"claiming an older organisation position": draft(early, "older.txt"),
		"skipping a version": func() *coffrev1.VaultEntry {
			b := draft(state, "skip.txt")
			b.Writes[0].Version++
			b.Writes[0].Ciphertext = sealManifest(t, w.org, w.vault, b.Writes[0].Version, index, key, wireManifest(mustLatest(t, cv.Log(), workspace.RootID(w.vault))))
			return b
		}(),
	} {
		head := w.s.VaultHead(t, w.org, w.vault)
		_, err := api.VaultAppend(bg(), &coffrev1.VaultAppendRequest{VaultId: w.vault, Entry: signEntry(t, carol.SigningKey, body)})
		if wire.FromStatus(err) != wire.ErrCertificateRefused {
			t.Errorf("%s: the server answered %v, want %v", name, err, wire.ErrCertificateRefused)
		}
		if got := w.s.VaultHead(t, w.org, w.vault); !sameHead(got, head) {
			t.Errorf("%s: stored at %d", name, got.Position)
			w.s.TruncateVaultLog(t, w.org, w.vault, head.Position)
		}
	}
	mustSyncVault(t, cv)

	// Garbage under the real key, at the right versions: the server takes
	// it, readers skip it and say who wrote it.
	body := draft(state, "garbage.txt")
	for _, wr := range body.Writes {
		wr.Ciphertext = crypto.DeriveKey(key.Bytes(), "manifest", nil).Encrypt(
			manifestAAD(w.org, w.vault, wr.GetManifestId(), wr.GetVersion(), index), []byte("not a manifest"))
	}
	if _, err := api.VaultAppend(bg(), &coffrev1.VaultAppendRequest{VaultId: w.vault, Entry: signEntry(t, carol.SigningKey, body)}); err != nil {
		t.Fatalf("the server refused an entry it can't tell from a good one: %v", err)
	}
	bad := w.s.VaultHead(t, w.org, w.vault).Position
	put(t, av, "/after.txt", []byte("written after the garbage"))
	mustSyncVault(t, cv)
	put(t, cv, "/carol.txt", []byte("carol's honest client writes on"))
	bv := w.open(t, "bob")
	for name, v := range map[string]*workspace.Vault{"alice": av, "bob": bv, "carol": cv} {
		mustSyncVault(t, v)
		if got := list(t, v, "/"); !slices.Equal(got, []string{"a.txt", "after.txt", "carol.txt"}) {
			t.Errorf("%s lists %v", name, got)
		}
		q := v.Log().Quarantined()
		if len(q) != 1 || q[0].Position != bad || q[0].Author != carol.DeviceID || q[0].User != w.user("carol") {
			t.Errorf("%s's quarantine: %+v, want entry %d by carol's device", name, q, bad)
		}
	}
	// After a restart, from the device's own state, the same.
	w.reopen(t, "bob")
	bv = w.open(t, "bob")
	if q := bv.Log().Quarantined(); len(q) != 1 || q[0].Position != bad {
		t.Errorf("after reopening: %+v", q)
	}
	if got := string(get(t, bv, "/after.txt")); got != "written after the garbage" {
		t.Errorf("after.txt reads %q", got)
	}
}

func mustLatest(t *testing.T, l *workspace.Log, id string) *workspace.Manifest {
	t.Helper()
	v, ok := l.Latest(id)
	if !ok {
		t.Fatalf("no manifest %s", id)
	}
	return v.Manifest
}
