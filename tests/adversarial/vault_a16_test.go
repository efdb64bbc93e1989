package adversarial

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
)

// TestA16RotationOnUnshareRevocationAndExpiry: whenever a member leaves —
// unshared, revoked from the organisation, or at the end of a time-boxed
// grant — the next write by an owner is under the next key index, sealed
// to the remaining members only. Until the key is rotated, a contributor
// (who may not rotate) writes nothing: its client refuses with
// vaultlog.ErrRotationPending before uploading anything, and the server
// refuses the append too (SECURITY.md A16; SPEC.md §11.4).
func TestA16RotationOnUnshareRevocationAndExpiry(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a16",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor},
		member{"dave", certificate.ProfileStandard, certificate.RoleReader},
		member{"eve", certificate.ProfileStandard, certificate.RoleNone})
	av := w.open(t, "alice")
	put(t, av, "/start.txt", []byte("key 1"))

	// keyOfLastWrite is the key index of the newest stored vault entry.
	keyOfLastWrite := func() uint32 {
		entries := w.s.VaultLog(t, w.org, w.vault)
		_, body := parseEntry(t, entries[len(entries)-1])
		return body.GetKeyIndex()
	}
	// sealedTo is who the newest key is sealed to, in alice's verified log.
	newestSealedTo := func() (uint32, []string) {
		v, _ := w.sess["alice"].Organisation().Vault(w.vault)
		b := v.Keys[len(v.Keys)-1]
		var out []string
		for _, sk := range b.Sealed {
			out = append(out, sk.UserID)
		}
		slices.Sort(out)
		return b.Index, out
	}
	users := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, w.user(n))
		}
		slices.Sort(out)
		return out
	}
	// rotationPending checks that carol can't write and that nothing
	// reaches the server, from her client or raw.
	rotationPending := func(t *testing.T) {
		t.Helper()
		cv := w.open(t, "carol")
		blocks, head := len(w.s.Blocks(t, w.org, w.vault)), w.s.VaultHead(t, w.org, w.vault)
		_, err := cv.Put(bg(), "/by-carol.txt", strings.NewReader("must wait for the rotation"), nil)
		wantErr(t, err, vaultlog.ErrRotationPending)
		wantErr(t, cv.Mkdir(bg(), "/carol-dir"), vaultlog.ErrRotationPending)
		if len(w.s.Blocks(t, w.org, w.vault)) != blocks || !sameHead(w.s.VaultHead(t, w.org, w.vault), head) {
			t.Fatal("something was uploaded before the rotation")
		}
		index, key := w.keys(t, "carol").Newest()
		entry := w.forgeAddFile(t, cv.Log(), w.sess["carol"].Organisation(), w.dev["carol"].DeviceID, w.dev["carol"].SigningKey, index, key, "raw.txt")
		_, err = w.s.Dial(t, w.dev["carol"].Signer()).VaultAppend(bg(), &coffrev1.VaultAppendRequest{VaultId: w.vault, Entry: entry})
		if wire.FromStatus(err) != vaultlog.ErrRotationPending {
			t.Fatalf("the server took a write before the rotation: %v", err)
		}
	}
	// ownerRotates checks that alice's next opening (w.open: PrepareVault)
	// rotates to key want, sealed to exactly members, and that her write
	// uses it; then carol writes under it too.
	ownerRotates := func(t *testing.T, want uint32, members []string) {
		t.Helper()
		av := w.open(t, "alice")
		if index, to := newestSealedTo(); index != want || !slices.Equal(to, members) {
			t.Fatalf("newest key %d sealed to %v, want key %d sealed to %v", index, to, want, members)
		}
		put(t, av, "/by-alice.txt", []byte("after the rotation"))
		if got := keyOfLastWrite(); got != want {
			t.Fatalf("written under key %d, want %d", got, want)
		}
		put(t, w.open(t, "carol"), "/by-carol.txt", []byte("after the rotation"))
		if got := keyOfLastWrite(); got != want {
			t.Fatalf("carol wrote under key %d, want %d", got, want)
		}
	}

	t.Run("unshare", func(t *testing.T) {
		if err := w.sess["alice"].UnshareVault(bg(), w.vault, "bob@example.org"); err != nil {
			t.Fatal(err)
		}
		ownerRotates(t, 2, users("alice", "carol", "dave"))
	})

	t.Run("revocation", func(t *testing.T) {
		if _, err := w.sess["alice"].Revoke(bg(), "dave@example.org"); err != nil {
			t.Fatal(err)
		}
		rotationPending(t)
		ownerRotates(t, 3, users("alice", "carol"))
	})

	t.Run("end of a grant", func(t *testing.T) {
		// Long enough for Eve to read first, even on a loaded machine.
		until := time.Now().Add(4 * time.Second)
		if _, err := w.sess["alice"].ShareVault(bg(), w.vault, "eve@example.org", certificate.RoleReader, until); err != nil {
			t.Fatal(err)
		}
		if index, to := newestSealedTo(); index != 3 || len(to) != 2 {
			t.Fatalf("key %d sealed to %v", index, to)
		}
		ev := w.open(t, "eve")
		if got := string(get(t, ev, "/by-alice.txt")); got != "after the rotation" {
			t.Fatalf("Eve reads %q", got)
		}
		time.Sleep(time.Until(until) + 100*time.Millisecond)
		// Nothing was written when the grant ended: it ended by itself.
		if _, err := w.s.Dial(t, w.dev["eve"].Signer()).VaultRead(bg(), &coffrev1.VaultReadRequest{VaultId: w.vault, From: 1}); wire.FromStatus(err) != wire.ErrForbidden {
			t.Fatalf("the server let Eve read after her grant ended: %v", err)
		}
		rotationPending(t)
		ownerRotates(t, 4, users("alice", "carol"))
		mustSync(t, w.sess["eve"])
		_, err := w.sess["eve"].OpenVault(bg(), w.vault)
		wantErr(t, err, client.ErrNotMember)
	})
}
