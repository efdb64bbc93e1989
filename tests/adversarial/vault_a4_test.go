package adversarial

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
)

// TestA4InjectedManifestRefused: the server appends to a vault's log an
// entry that adds a file, perfect in every way (right position and chain,
// manifests encrypted under the vault's real key) but for its signer: a
// key the server controls (as a member's device, or as a device nobody
// enrolled), a reader's real device (readers don't write), or a removed
// member's real device (with the key they held, claiming the
// organisation's head or back-dated to before their removal). The reading
// client refuses it with vaultlog.ErrEntryRefused, shows nothing of it,
// and keeps its verified head, in memory and on disk (SECURITY.md A4,
// A15; SPEC.md §11.5 Check and Apply). The same entry signed by the owner
// is accepted: the signer is the only thing wrong.
func TestA4InjectedManifestRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a4",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor},
		member{"dave", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	put(t, av, "/genuine.txt", []byte("written by alice"))

	// Dave, a contributor, is removed; he keeps his key and device.
	dv := w.open(t, "dave")
	daveKeys := w.keys(t, "dave")
	beforeRemoval := w.s.LogState(t, w.org)
	if err := w.sess["alice"].UnshareVault(bg(), w.vault, "dave@example.org"); err != nil {
		t.Fatal(err)
	}
	av = w.open(t, "alice")
	put(t, av, "/after-removal.txt", []byte("written by alice after dave left"))

	cv := w.open(t, "carol")
	before, names := cv.Log().Head, list(t, cv, "/")
	state := w.s.LogState(t, w.org)
	l := cv.Log()
	index, key := w.keys(t, "alice").Newest()
	daveIndex, daveKey := daveKeys.Newest()
	if daveIndex >= index {
		t.Fatalf("Dave holds key %d, the vault is at %d", daveIndex, index)
	}
	alice, bob, dave := w.dev["alice"], w.dev["bob"], w.dev["dave"]
	attacker := newSigningKey(t)
	signed, body := parseEntry(t, w.forgeAddFile(t, l, state, alice.DeviceID, attacker, index, key, "injected.txt"))
	signed.Signature = nil
	unsigned, err := deterministic.Marshal(signed)
	if err != nil || body.GetAuthor() != alice.DeviceID {
		t.Fatal(err)
	}
	byReader := w.forgeAddFile(t, l, state, bob.DeviceID, bob.SigningKey, index, key, "injected.txt")
	byRemoved := w.forgeAddFile(t, l, state, dave.DeviceID, dave.SigningKey, daveIndex, daveKey, "injected.txt")
	cases := []struct {
		name  string
		entry []byte
	}{
		{"an attacker's key, as the owner's device", w.forgeAddFile(t, l, state, alice.DeviceID, attacker, index, key, "injected.txt")},
		{"an attacker's key, as a device nobody enrolled", w.forgeAddFile(t, l, state, certificate.NewID(), attacker, index, key, "injected.txt")},
		{"no signature, as the owner's device", unsigned},
		{"a reader's real device", byReader},
		{"a removed member's device, with the key they held", byRemoved},
		{"a removed member's device, claiming the newest key", w.forgeAddFile(t, l, state, dave.DeviceID, dave.SigningKey, index, crypto.NewSecretKey(), "injected.txt")},
		{"a removed member's device, back-dated before the removal", w.forgeAddFile(t, l, beforeRemoval, dave.DeviceID, dave.SigningKey, daveIndex, daveKey, "injected.txt")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cv := w.open(t, "carol")
			w.s.AppendVaultRaw(t, w.org, w.vault, c.entry)
			defer w.s.TruncateVaultLog(t, w.org, w.vault, before.Position)
			err := cv.Sync(bg())
			wantErr(t, err, vaultlog.ErrEntryRefused)
			t.Logf("refused: %v", err)
			if got := list(t, cv, "/"); !slices.Equal(got, names) {
				t.Fatalf("listing %v after a refused entry, want %v", got, names)
			}
			if _, err := cv.Stat("/injected.txt", zeroTime); err == nil {
				t.Fatal("the injected file is visible")
			}
			w.vaultUnchanged(t, "carol", cv, before)
			_, err = w.sess["carol"].OpenVault(bg(), w.vault)
			wantErr(t, err, vaultlog.ErrEntryRefused)
			w.vaultUnchanged(t, "carol", nil, before)
		})
	}

	// The honest server would not have taken them: readers and removed
	// members are refused at once.
	for name, entry := range map[string][]byte{"bob": byReader, "dave": byRemoved} {
		_, err := w.s.Dial(t, w.dev[name].Signer()).VaultAppend(bg(), &coffrev1.VaultAppendRequest{VaultId: w.vault, Entry: entry})
		if wire.FromStatus(err) != wire.ErrForbidden {
			t.Errorf("the server took %s's entry: %v", name, err)
		}
	}
	// Dave's own client no longer opens the vault; the vault he opened
	// before is refused by the server.
	mustSync(t, w.sess["dave"])
	if _, err := w.sess["dave"].OpenVault(bg(), w.vault); !errors.Is(err, client.ErrNotMember) {
		t.Errorf("a removed member opened the vault: %v", err)
	}
	if _, err := dv.Put(bg(), "/from-dave.txt", strings.NewReader("dave"), nil); err == nil {
		t.Error("a removed member's client wrote")
	}

	// Control: the same entry, signed by the owner's device, is accepted.
	w.s.AppendVaultRaw(t, w.org, w.vault, w.forgeAddFile(t, l, state, alice.DeviceID, alice.SigningKey, index, key, "injected.txt"))
	cv = w.open(t, "carol")
	if got := list(t, cv, "/"); !slices.Contains(got, "injected.txt") {
		t.Fatalf("control: the owner's entry was not accepted (listing %v)", got)
	}
}
