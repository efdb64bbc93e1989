package adversarial

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// TestA3TransplantedBlobsRefused: ciphertexts moved to another context are
// refused, because each one's associated data binds where it belongs
// (organisation, vault, object id, version, key index, user):
//   - an entry's sealed manifests (its batch, SPEC.md §11.5) presented as
//     the next versions of its manifests, as another manifest's, or as a
//     manifest of another vault
//     (workspace.ErrBadManifest): in an entry a writer signed, the entry
//     is quarantined and shows nothing — the signature is not what
//     catches it;
//   - a block file swapped with another file's, or with another vault's,
//     on the server's disk, and a block ciphertext referenced, with its
//     real key and digest, under another block id or in another vault
//     (workspace.ErrBadBlock);
//   - a vault key sealed to one user presented as another's, or sealed for
//     another vault or another key index (OpenKeys: workspace.ErrNoKey).
//
// (SECURITY.md A3; SPEC.md §11.2, §11.3.)
func TestA3TransplantedBlobsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a3", member{"bob", certificate.ProfileStandard, certificate.RoleReader})
	av := w.open(t, "alice")
	put(t, av, "/f.txt", []byte("f, version 1"))
	put(t, av, "/f.txt", []byte("f, version 2"))
	put(t, av, "/g.txt", []byte("g, a file of the same vault"))
	other, err := w.sess["alice"].CreateVault(bg(), "another vault")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.sess["alice"].ShareVault(bg(), other.ID, "bob@example.org", certificate.RoleReader, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ov := w.openID(t, "alice", other.ID)
	put(t, ov, "/f.txt", []byte("f of another vault"))

	fv, _ := av.Stat("/f.txt", zeroTime)
	gv, _ := av.Stat("/g.txt", zeroTime)
	fID, gID, root := fv.Manifest.ID, gv.Manifest.ID, workspace.RootID(w.vault)
	// entryOf returns the stored body of the entry that wrote version
	// `version` of id.
	entryOf := func(vault, id string, version uint64) *coffrev1.VaultEntry {
		for _, data := range w.s.VaultLog(t, w.org, vault) {
			_, body := parseEntry(t, data)
			for _, wr := range entryWrites(t, body) {
				if wr.ManifestID == id && wr.Version == version {
					return body
				}
			}
		}
		t.Fatalf("no version %d of %s", version, id)
		return nil
	}
	state := w.s.LogState(t, w.org)
	alice := w.dev["alice"]
	index, key := w.keys(t, "alice").Newest()
	// signed is the next entry of the vault, by the owner's real device,
	// carrying writes.
	signed := func(writes ...*coffrev1.ManifestWrite) []byte {
		body := w.draftEntry(t, state, alice.DeviceID, index)
		body.Writes = writes
		return signEntry(t, alice.SigningKey, body)
	}
	// transplant is the next entry of the vault, by the owner's real
	// device, carrying src's sealed manifests for src's writes, each id
	// renamed as rename says, at its next version here.
	transplant := func(l *workspace.Log, src *coffrev1.VaultEntry, rename map[string]string) []byte {
		body := w.draftEntry(t, state, alice.DeviceID, index)
		var writes []vaultlog.Write
		for _, wr := range entryWrites(t, src) {
			id := wr.ManifestID
			if to, ok := rename[id]; ok {
				id = to
			}
			writes = append(writes, vaultlog.Write{ManifestID: id, Version: l.NextVersion(id)})
		}
		setWrites(body, writes)
		body.Manifests = src.GetManifests()
		return signEntry(t, alice.SigningKey, body)
	}
	bv := w.open(t, "bob")

	// A writer signed them: the entry keeps its place in the chain and is
	// quarantined, attributed to its signer, and nothing of it is shown
	// (SECURITY.md A28).
	t.Run("manifests", func(t *testing.T) {
		for name, forge := range map[string]func(l *workspace.Log) []byte{
			"an older entry's batch as the next versions": func(l *workspace.Log) []byte {
				return transplant(l, entryOf(w.vault, fID, 1), nil)
			},
			"another manifest's batch": func(l *workspace.Log) []byte {
				return transplant(l, entryOf(w.vault, gID, 1), map[string]string{gID: fID})
			},
			"another vault's root": func(l *workspace.Log) []byte {
				return transplant(l, entryOf(other.ID, workspace.RootID(other.ID), 1), map[string]string{workspace.RootID(other.ID): root})
			},
		} {
			w.s.AppendVaultRaw(t, w.org, w.vault, forge(bv.Log()))
			if err := bv.Sync(bg()); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			q := bv.Log().Quarantined()
			if len(q) == 0 || q[len(q)-1].Position != bv.Log().Head.Position || q[len(q)-1].Author != alice.DeviceID ||
				!errors.Is(q[len(q)-1].Reason, workspace.ErrBadManifest) {
				t.Fatalf("%s: not quarantined as alice's bad manifest: %+v", name, q)
			}
			t.Logf("%s: %v", name, q[len(q)-1].Reason)
			if got := string(get(t, bv, "/f.txt")); got != "f, version 2" {
				t.Fatalf("%s: f reads %q", name, got)
			}
		}
	})

	t.Run("block files swapped", func(t *testing.T) {
		fb, gb := fileBlocks(t, av, "/f.txt")[0], fileBlocks(t, av, "/g.txt")[0]
		ob := fileBlocks(t, ov, "/f.txt")[0]
		fData, gData := w.s.Block(t, w.org, w.vault, fb.ID), w.s.Block(t, w.org, w.vault, gb.ID)
		w.s.WriteBlock(t, w.org, w.vault, fb.ID, gData)
		w.s.WriteBlock(t, w.org, w.vault, gb.ID, fData)
		w.forgetCache(t, "bob") // Bob read f before
		getRefused(t, bv, "/f.txt", workspace.ErrBadBlock)
		getRefused(t, bv, "/g.txt", workspace.ErrBadBlock)
		w.s.WriteBlock(t, w.org, w.vault, fb.ID, w.s.Block(t, w.org, other.ID, ob.ID))
		w.forgetCache(t, "bob")
		getRefused(t, bv, "/f.txt", workspace.ErrBadBlock)
		w.s.WriteBlock(t, w.org, w.vault, fb.ID, fData)
		w.s.WriteBlock(t, w.org, w.vault, gb.ID, gData)
		w.forgetCache(t, "bob")
	})

	// A writer's manifest (signed, under the right key) that names a
	// genuine block ciphertext, with its real key and digest, under
	// another id or from another vault.
	t.Run("block ciphertexts under another id or vault", func(t *testing.T) {
		fb := fileBlocks(t, av, "/f.txt")[0]
		ob := fileBlocks(t, ov, "/f.txt")[0]
		newID := certificate.NewID()
		w.s.WriteBlock(t, w.org, w.vault, newID, w.s.Block(t, w.org, w.vault, fb.ID))
		w.s.WriteBlock(t, w.org, w.vault, ob.ID, w.s.Block(t, w.org, other.ID, ob.ID))
		version := func(b workspace.Block, n uint64) *coffrev1.ManifestWrite {
			m := wireManifest(&workspace.Manifest{ID: fID, Parent: root, Size: b.Size, Blocks: []workspace.Block{b}})
			return &coffrev1.ManifestWrite{ManifestId: fID, Version: n, Ciphertext: sealManifest(t, w.org, w.vault, n, index, key, m)}
		}
		moved := fb
		moved.ID = newID
		next := bv.Log().NextVersion(fID)
		w.s.AppendVaultRaw(t, w.org, w.vault, signed(version(moved, next)))
		if err := bv.Sync(bg()); err != nil {
			t.Fatalf("a writer's valid entry: %v", err)
		}
		getRefused(t, bv, "/f.txt", workspace.ErrBadBlock)
		w.s.AppendVaultRaw(t, w.org, w.vault, signed(version(ob, next+1)))
		if err := bv.Sync(bg()); err != nil {
			t.Fatal(err)
		}
		getRefused(t, bv, "/f.txt", workspace.ErrBadBlock)
		// Control: the block under its own id and vault reads.
		w.s.AppendVaultRaw(t, w.org, w.vault, signed(version(fb, next+2)))
		if err := bv.Sync(bg()); err != nil {
			t.Fatal(err)
		}
		if got := string(get(t, bv, "/f.txt")); got != "f, version 2" {
			t.Fatalf("control: f reads %q", got)
		}
	})

	// Sealed keys, on a copy of the verified vault: the server can't
	// change a signed certificate, so this checks the associated data
	// beneath the signature.
	t.Run("sealed keys", func(t *testing.T) {
		if _, err := w.sess["alice"].RotateVault(bg(), w.vault); err != nil {
			t.Fatal(err)
		}
		mustSync(t, w.sess["bob"])
		org := w.sess["bob"].Organisation()
		v, _ := org.Vault(w.vault)
		bobUser, _ := org.User(w.user("bob"))
		newest := v.Keys[len(v.Keys)-1]
		if newest.Index != 2 || sealedTo(newest, w.user("bob")) == nil || sealedTo(newest, w.user("alice")) == nil {
			t.Fatalf("key %d sealed to %d users", newest.Index, len(newest.Sealed))
		}
		openWith := func(change func(b *certificate.KeyBundle)) error {
			c := *v
			c.Keys = append([]certificate.KeyBundle(nil), v.Keys...)
			b := c.Keys[len(c.Keys)-1]
			b.Sealed = append([]certificate.SealedKey(nil), b.Sealed...)
			change(&b)
			c.Keys[len(c.Keys)-1] = b
			_, err := workspace.OpenKeys(org, &c, w.user("bob"), w.dev["bob"].SealKey)
			return err
		}
		setBob := func(sealed []byte) func(*certificate.KeyBundle) {
			return func(b *certificate.KeyBundle) {
				for i := range b.Sealed {
					if b.Sealed[i].UserID == w.user("bob") {
						b.Sealed[i].Sealed = sealed
					}
				}
			}
		}
		if err := openWith(func(*certificate.KeyBundle) {}); err != nil {
			t.Fatalf("control: Bob's keys don't open: %v", err)
		}
		k := crypto.NewSecretKey()
		sealed := func(vault string, index uint32) []byte {
			s, err := workspace.SealKeyTo(w.org, vault, index, bobUser, k)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		for name, change := range map[string]func(*certificate.KeyBundle){
			"alice's sealed key as bob's":           setBob(sealedTo(newest, w.user("alice"))),
			"a key sealed to bob for another vault": setBob(sealed(other.ID, newest.Index)),
			"a key sealed to bob for key index 1":   setBob(sealed(w.vault, 1)),
		} {
			if err := openWith(change); !errors.Is(err, workspace.ErrNoKey) {
				t.Errorf("%s: %v, want %v", name, err, workspace.ErrNoKey)
			}
		}
		// Control: a key sealed to Bob for this very place opens (and
		// then fails the key commitment, being another key).
		if err := openWith(setBob(sealed(w.vault, newest.Index))); err == nil || !bytes.Contains([]byte(err.Error()), []byte("commits to")) {
			t.Fatalf("control: a key sealed for the right place: %v, want a key commitment failure", err)
		}
	})
}
