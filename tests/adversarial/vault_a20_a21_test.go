package adversarial

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/workspace"
)

// TestA20NoCrossVaultDedup: the same content stored as several files — in
// one vault, in another vault, by another user — shares nothing on the
// server: every block has its own random id and key, so no two block
// files are alike, and the chunk boundaries (block sizes, which the server
// sees) come from each vault's own secret. The server can't tell, by
// comparing what it stores, whether someone stored a file it knows
// (SECURITY.md A20; SPEC.md §11.3 "Blocks").
func TestA20NoCrossVaultDedup(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a20", member{"bob", certificate.ProfileStandard, certificate.RoleContributor})
	other, err := w.sess["alice"].CreateVault(bg(), "a20, other vault")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.sess["alice"].ShareVault(bg(), other.ID, "bob@example.org", certificate.RoleContributor, time.Time{}); err != nil {
		t.Fatal(err)
	}
	content := w.content(t, 2)
	av, ov, bv := w.open(t, "alice"), w.openID(t, "alice", other.ID), w.open(t, "bob")
	mkdir(t, av, "/dir")
	type file struct {
		v    *workspace.Vault
		vid  string
		path string
	}
	files := []file{
		{av, w.vault, "/a.bin"}, {av, w.vault, "/b.bin"}, {av, w.vault, "/dir/a.bin"},
		{bv, w.vault, "/bob.bin"}, {ov, other.ID, "/a.bin"}, {w.openID(t, "bob", other.ID), other.ID, "/bob.bin"},
	}
	owner := map[string]string{} // block id → file
	sizes := map[string][]uint64{}
	for _, f := range files {
		put(t, f.v, f.path, content)
		name := f.vid + ":" + f.path
		for _, b := range fileBlocks(t, f.v, f.path) {
			if prev, ok := owner[b.ID]; ok {
				t.Errorf("%s and %s share block %s", prev, name, b.ID)
			}
			owner[b.ID] = name
			sizes[f.vid] = append(sizes[f.vid], b.Size)
		}
	}
	if len(owner) < 2*len(files) {
		t.Fatalf("%d blocks for %d files of at least 2 blocks", len(owner), len(files))
	}
	// Every block file on the server is one of these, and no two are
	// alike, not even in their first bytes.
	all := w.s.AllBlocks(t)
	if len(all) != len(owner) {
		t.Errorf("%d block files on the server, %d blocks put", len(all), len(owner))
	}
	seen := map[string]string{}
	for p, data := range all {
		head := string(data[:64])
		if prev, ok := seen[head]; ok {
			t.Errorf("block files %s and %s start alike", prev, p)
		}
		seen[head] = p
	}
	// The same content is cut differently in the two vaults.
	n := len(sizes[other.ID]) / 2
	if slices.Equal(sizes[w.vault][:n], sizes[other.ID][:n]) {
		t.Errorf("the two vaults cut the same content into the same block sizes %v", sizes[w.vault][:n])
	}
	// A new version of a file, same content, reuses only that file's own
	// blocks, never another file's.
	put(t, av, "/a.bin", content)
	for _, b := range fileBlocks(t, av, "/a.bin") {
		if o := owner[b.ID]; o != "" && o != w.vault+":/a.bin" {
			t.Errorf("a new version of /a.bin uses block %s of %s", b.ID, o)
		}
	}
}

// TestA21BlockUnderAnotherKeyRefused: XChaCha20-Poly1305 does not commit
// to its key, so a block ciphertext could be made to open under a key the
// reader trusts and give other bytes. The server can't know a block's key
// (it is in the encrypted manifest), so this plays a member who does: the
// block is replaced by another plaintext encrypted under the block's real
// key and associated data (it opens), or under another key, or the real
// plaintext under another key. The signed digest over the plaintext, and
// the signed size, refuse all of them (workspace.ErrBadBlock); nothing
// reaches the destination (SECURITY.md A21; SPEC.md §11.3).
func TestA21BlockUnderAnotherKeyRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a21", member{"bob", certificate.ProfileStandard, certificate.RoleReader})
	av := w.open(t, "alice")
	plain := crypto.RandomBytes(100<<10 + 1) // under MinChunk: one block, with some padding
	put(t, av, "/f.bin", plain)
	blocks := fileBlocks(t, av, "/f.bin")
	if len(blocks) != 1 {
		t.Fatalf("%d blocks", len(blocks))
	}
	b := blocks[0]
	aad := blockAAD(w.org, w.vault, b.ID)
	bv := w.open(t, "bob")
	same := crypto.RandomBytes(len(plain))
	cases := []struct {
		name  string
		data  []byte
		opens bool // under the block's real key
	}{
		{"another plaintext, same size, under the real key", b.Key.Encrypt(aad, padded(same)), true},
		{"another plaintext, another size, under the real key", b.Key.Encrypt(aad, padded(same[:len(same)-1])), true},
		{"the real plaintext with a byte changed, under the real key", b.Key.Encrypt(aad, padded(flipped(plain, 1000))), true},
		{"the real plaintext unpadded, under the real key", b.Key.Encrypt(aad, plain), true},
		{"the real plaintext with a padding byte set, under the real key", b.Key.Encrypt(aad, flipped(padded(plain), len(plain))), true},
		{"another plaintext under another key", crypto.NewSecretKey().Encrypt(aad, padded(same)), false},
		{"the real plaintext under another key", crypto.NewSecretKey().Encrypt(aad, padded(plain)), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := b.Key.Decrypt(aad, c.data); (err == nil) != c.opens {
				t.Fatalf("opens under the real key: %v, want %v", err == nil, c.opens)
			}
			w.s.WriteBlock(t, w.org, w.vault, b.ID, c.data)
			w.forgetCache(t, "bob")
			getRefused(t, bv, "/f.bin", workspace.ErrBadBlock)
		})
	}
	// Control: the real plaintext encrypted again under the real key and
	// associated data (another nonce) is the block.
	w.s.WriteBlock(t, w.org, w.vault, b.ID, b.Key.Encrypt(aad, padded(plain)))
	w.forgetCache(t, "bob")
	if !bytes.Equal(get(t, bv, "/f.bin"), plain) {
		t.Fatal("control: the block re-encrypted under its key does not read")
	}
}

func flipped(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 1
	return b
}
