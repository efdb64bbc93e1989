package adversarial

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

// TestRevokedReaderDecryptsNothingNew: a member who leaves a vault —
// unshared (Bob), or revoked from the organisation (Carol) — keeps every
// key they ever held, and the server hands them everything it stores after
// their removal: every vault log entry, every block, the whole
// organisation log. They decrypt none of it: no key sealed after the
// removal opens with their seal key, no manifest written after it opens
// with any of their old keys (so no block key, name, size or folder
// written since is reachable), and no new block opens with any key they
// ever saw (SECURITY.md "a revoked or removed member", A16; SPEC.md §11.4).
// Every negative check has a positive control on what they could read
// before, so that the test fails if its own decryption is wrong.
func TestRevokedReaderDecryptsNothingNew(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "shared secrets",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleReader})
	alice := w.sess["alice"]

	// While Bob and Carol are members: files, a folder, a two-block file,
	// and a rotation, so that they hold keys 1 and 2.
	av := w.open(t, "alice")
	put(t, av, "/before.txt", []byte("written while bob and carol were members"))
	big := crypto.RandomBytes(600<<10 + 1000)
	put(t, av, "/big.bin", big)
	if _, err := alice.RotateVault(bg(), w.vault); err != nil {
		t.Fatal(err)
	}
	av = w.open(t, "alice")
	mkdir(t, av, "/folder")
	put(t, av, "/folder/inside.txt", []byte("under key 2"))
	bv := w.open(t, "bob")
	if !bytes.Equal(get(t, bv, "/big.bin"), big) || string(get(t, bv, "/folder/inside.txt")) != "under key 2" {
		t.Fatal("Bob can't read the vault while a member")
	}
	bobKeys := w.keys(t, "bob")
	if n, _ := bobKeys.Newest(); n != 2 {
		t.Fatalf("Bob holds keys up to %d, want 2", n)
	}
	bobFrom, bobBlocks := w.s.VaultHead(t, w.org, w.vault).Position, w.blockSet(t)

	// Bob is unshared: his removal and a rotation to key 3, in one append.
	if err := alice.UnshareVault(bg(), w.vault, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	av = w.open(t, "alice")
	put(t, av, "/after-unshare.txt", []byte("bob must never read this"))
	put(t, av, "/before.txt", []byte("a new version bob must never read"))
	put(t, av, "/big.bin", crypto.RandomBytes(600<<10+2000))
	mkdir(t, av, "/folder/new-sub")
	if err := av.Move(bg(), "/folder/inside.txt", "/folder/new-sub/moved.txt"); err != nil {
		t.Fatal(err)
	}
	if err := alice.RenameVault(bg(), w.vault, "renamed after bob left"); err != nil {
		t.Fatal(err)
	}

	// Bob's own client no longer shows the vault; the server refuses him.
	mustSync(t, w.sess["bob"])
	if _, err := w.sess["bob"].OpenVault(bg(), w.vault); !errors.Is(err, client.ErrNotMember) {
		t.Fatalf("Bob opening the vault after his removal: %v", err)
	}
	raw := w.s.Dial(t, w.dev["bob"].Signer())
	if _, err := raw.VaultRead(bg(), &coffrev1.VaultReadRequest{VaultId: w.vault, From: 1}); wire.FromStatus(err) != wire.ErrForbidden {
		t.Fatalf("the server let Bob read after his removal: %v", err)
	}

	// Carol is still a member: she holds key 3.
	mustSync(t, w.sess["carol"])
	carolKeys := w.keys(t, "carol")
	if n, _ := carolKeys.Newest(); n != 3 {
		t.Fatalf("Carol holds keys up to %d, want 3", n)
	}
	cv := w.open(t, "carol")
	if string(get(t, cv, "/after-unshare.txt")) != "bob must never read this" {
		t.Fatal("Carol can't read")
	}
	carolFrom, carolBlocks := w.s.VaultHead(t, w.org, w.vault).Position, w.blockSet(t)

	// Carol is revoked: Alice's next PrepareVault (w.open) rotates to key 4.
	if _, err := alice.Revoke(bg(), "carol@example.org"); err != nil {
		t.Fatal(err)
	}
	av = w.open(t, "alice")
	v, _ := w.sess["alice"].Organisation().Vault(w.vault)
	if v.KeyIndex() != 4 {
		t.Fatalf("key %d after the revocation, want 4: opening did not rotate", v.KeyIndex())
	}
	put(t, av, "/after-revocation.txt", []byte("carol must never read this"))
	put(t, av, "/after-unshare.txt", []byte("a version carol must never read"))
	put(t, av, "/big.bin", crypto.RandomBytes(600<<10+3000))
	if err := alice.RenameVault(bg(), w.vault, "renamed after carol left"); err != nil {
		t.Fatal(err)
	}

	// What a colluding server hands over: the whole organisation log
	// (verified from the root key, as they would), the whole vault log,
	// every block.
	state := w.s.LogState(t, w.org)
	entries := w.s.VaultLog(t, w.org, w.vault)
	blocks := w.s.Blocks(t, w.org, w.vault)
	t.Run("unshared", func(t *testing.T) {
		nothingNew(t, w, state, entries, blocks, w.user("bob"), w.dev["bob"].SealKey, bobKeys, bobFrom, bobBlocks)
	})
	t.Run("revoked", func(t *testing.T) {
		nothingNew(t, w, state, entries, blocks, w.user("carol"), w.dev["carol"].SealKey, carolKeys, carolFrom, carolBlocks)
	})
}

// nothingNew checks that a former member holding seal and every vault key
// in held reads nothing of what the server stores after their removal (the
// vault log after position from, the blocks not in before), while reading
// everything before it.
func nothingNew(t *testing.T, w *world, org *certificate.Organisation, entries [][]byte, blocks map[string][]byte,
	user string, seal *crypto.SealKey, held *workspace.Keys, from uint64, before map[string]bool) {
	v, _ := org.Vault(w.vault)
	heldMax, _ := held.Newest()
	if v.KeyIndex() <= heldMax {
		t.Fatalf("no rotation after the removal: newest key %d, held %d", v.KeyIndex(), heldMax)
	}
	old := map[uint32]crypto.SecretKey{}
	for i := uint32(1); i <= heldMax; i++ {
		k, ok := held.Get(i)
		if !ok {
			t.Fatalf("key %d missing from the keys held", i)
		}
		old[i] = k
	}
	u32 := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	aad := func(purpose string, parts ...[]byte) []byte {
		d := crypto.LabeledSum("aad/"+purpose, append([][]byte{[]byte(w.org), []byte(w.vault)}, parts...)...)
		return d[:]
	}

	// Keys: what the log offers them is only what they held.
	if got, err := workspace.OpenKeys(org, v, user, seal); err == nil {
		if n, _ := got.Newest(); n > heldMax {
			t.Errorf("OpenKeys gave the former member key %d", n)
		}
	} else if !errors.Is(err, workspace.ErrNoKey) {
		t.Errorf("OpenKeys: %v", err)
	}
	for _, g := range v.GrantKeys(user) {
		if g.Index > heldMax {
			t.Errorf("a grant after the removal carries key %d for them", g.Index)
		}
	}
	for _, b := range v.Keys[heldMax:] {
		for _, sk := range b.Sealed {
			if sk.UserID == user {
				t.Errorf("key %d is sealed to the former member", b.Index)
			}
			for _, as := range []string{user, sk.UserID} {
				if _, err := seal.Open("vault-key", aad("vault-key", u32(b.Index), []byte(as)), sk.Sealed); err == nil {
					t.Errorf("key %d sealed to %s opens with the former member's seal key", b.Index, sk.UserID)
				}
			}
		}
		for i, k := range old {
			if _, err := k.Decrypt(aad("canary", u32(b.Index)), b.Canary); err == nil {
				t.Errorf("old key %d passes the canary of key %d", i, b.Index)
			}
			if _, err := k.Decrypt(aad("previous-keys", u32(b.Index)), b.PreviousKeys); err == nil {
				t.Errorf("old key %d opens the previous keys of key %d", i, b.Index)
			}
		}
	}
	// Control: their newest key opens its own canary.
	if _, err := old[heldMax].Decrypt(aad("canary", u32(heldMax)), v.Keys[heldMax-1].Canary); err != nil {
		t.Fatal("control: the former member's own key fails its canary: the test's associated data is wrong")
	}
	// The vault's name, renamed after the removal.
	if v.NameKeyIndex <= heldMax {
		t.Fatalf("the vault was not renamed after the removal (name key %d)", v.NameKeyIndex)
	}
	if _, err := workspace.DecryptName(w.org, v, held); err == nil {
		t.Error("the former member decrypts the vault's new name")
	}
	for _, k := range old {
		nk := crypto.DeriveKey(k.Bytes(), "vault-name", nil)
		if _, err := nk.Decrypt(nameAAD(w.org, w.vault, v.NameKeyIndex), v.EncryptedName); err == nil {
			t.Error("an old key opens the vault's new name")
		}
	}

	// Manifests: their own verifier, given their keys, accepts the log up
	// to their removal and not one entry after it.
	l := workspace.NewLog(w.org, w.vault)
	for i, data := range entries {
		pos := uint64(i + 1)
		_, err := l.Apply(org, held, pos, data)
		if pos <= from && err != nil {
			t.Fatalf("control: entry %d, before the removal, does not verify with the keys held: %v", pos, err)
		}
		if pos == from+1 {
			if !errors.Is(err, workspace.ErrNoKey) {
				t.Errorf("entry %d, after the removal: %v, want %v", pos, err, workspace.ErrNoKey)
			}
			break
		}
	}
	// And by hand: every old key, under every key index, on every write.
	blockKeys := map[string]crypto.SecretKey{} // block id → key, from manifests they can read
	newWrites := 0
	for i, data := range entries {
		pos := uint64(i + 1)
		_, body := parseEntry(t, data)
		if body.GetFormatVersion() != vaultlog.FormatVersion {
			t.Fatalf("entry %d is of format %d, want %d: this checks batches", pos, body.GetFormatVersion(), vaultlog.FormatVersion)
		}
		if pos <= from {
			b, err := openBatch(t, w.org, w.vault, body, body.GetKeyIndex(), old[body.GetKeyIndex()])
			if err != nil {
				t.Fatalf("control: the manifests at %d do not decrypt with key %d", pos, body.GetKeyIndex())
			}
			for _, m := range b.GetManifests() {
				for _, bl := range m.GetFile().GetBlocks() {
					k, err := crypto.ParseSecretKey(bl.GetKey())
					if err != nil {
						t.Fatal(err)
					}
					id, _ := vaultlog.ParseCompactID(bl.GetId(), bl.GetRawId())
					blockKeys[id] = k
				}
			}
			continue
		}
		newWrites += len(body.GetWrites())
		if body.GetKeyIndex() <= heldMax {
			t.Errorf("entry %d after the removal is under old key %d", pos, body.GetKeyIndex())
		}
		for ki, k := range old {
			for _, index := range []uint32{body.GetKeyIndex(), ki} {
				if _, err := openBatch(t, w.org, w.vault, body, index, k); err == nil {
					t.Errorf("the manifests at %d decrypt with old key %d", pos, ki)
				}
			}
			if _, err := k.Decrypt(batchAAD(w.org, w.vault, pos, body.GetKeyIndex(), entryWrites(t, body)), body.GetManifests()); err == nil {
				t.Errorf("the manifests at %d decrypt with old key %d, not derived", pos, ki)
			}
		}
	}
	if newWrites < 5 {
		t.Fatalf("only %d manifest writes after the removal: the test checks too little", newWrites)
	}

	// Blocks: the keys of new blocks are in manifests they can't open;
	// every key they ever saw is tried on every new block anyway.
	var tryKeys []crypto.SecretKey
	for _, k := range old {
		tryKeys = append(tryKeys, k, crypto.DeriveKey(k.Bytes(), "manifest", nil))
	}
	for _, k := range blockKeys {
		tryKeys = append(tryKeys, k)
	}
	newBlocks := 0
	for id, data := range blocks {
		if before[id] {
			if k, ok := blockKeys[id]; ok {
				if _, err := k.Decrypt(blockAAD(w.org, w.vault, id), data); err != nil {
					t.Fatalf("control: old block %s does not decrypt with its key", id)
				}
			}
			continue
		}
		newBlocks++
		if _, ok := blockKeys[id]; ok {
			t.Errorf("new block %s is referenced by a manifest the former member reads", id)
		}
		for _, k := range tryKeys {
			if _, err := k.Decrypt(blockAAD(w.org, w.vault, id), data); err == nil {
				t.Errorf("new block %s decrypts with a key the former member held", id)
			}
		}
	}
	if newBlocks < 3 || len(blockKeys) == 0 {
		t.Fatalf("%d new blocks, %d readable block keys: the test checks too little", newBlocks, len(blockKeys))
	}
}
