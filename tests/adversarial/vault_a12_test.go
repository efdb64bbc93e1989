package adversarial

import (
	"bytes"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// TestA12AuthorAndMetadataFromSignature: a file's history names, for each
// version, the device whose signature verified and its user, and the time
// the writer signed; its size is the one in the signed, encrypted
// manifest. The server can't rewrite any of them: an entry whose author,
// time, key index or manifest bytes were changed — keeping the writer's
// signature, or signed again with the attacker's key — is refused
// (vaultlog.ErrEntryRefused); what the server adds of its own (its
// receive time, the size of the block files) is not shown (SECURITY.md
// A12; SPEC.md §11.5, §11.6 "History").
func TestA12AuthorAndMetadataFromSignature(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a12",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	// The server's clock runs 3 minutes ahead (within what it lets
	// clients sign requests with): its receive times are not the
	// writers'.
	w.s.Clock.Advance(3 * time.Minute)
	defer w.s.Clock.Advance(-3 * time.Minute)
	av, cv := w.open(t, "alice"), w.open(t, "carol")
	contents := []struct {
		writer  *workspace.Vault
		device  string
		content string
	}{
		{av, "alice", "v1 by alice"},
		{cv, "carol", "version 2, by carol"},
		{av, "alice", "v3 by alice, longest of them all"},
	}
	for _, c := range contents {
		put(t, c.writer, "/doc.txt", []byte(c.content))
	}
	entries := w.s.VaultLog(t, w.org, w.vault)
	stored, err := w.s.Store().ReadVaultLog(bg(), w.org, w.vault, 1, 100)
	if err != nil {
		t.Fatal(err)
	}

	// Rewritten entries, to Bob who never opened the vault.
	carolEntry := uint64(0)
	for i, data := range entries {
		if _, body := parseEntry(t, data); body.GetAuthor() == w.dev["carol"].DeviceID {
			carolEntry = uint64(i + 1)
		}
	}
	attacker := newSigningKey(t)
	rewrites := map[string][]byte{
		"another author, the writer's signature kept": mutateEntry(t, entries[carolEntry-1], nil, func(b *coffrev1.VaultEntry) { b.Author = w.dev["alice"].DeviceID }),
		"another author, signed by the attacker":      mutateEntry(t, entries[carolEntry-1], attacker, func(b *coffrev1.VaultEntry) { b.Author = w.dev["alice"].DeviceID }),
		"another time":                                mutateEntry(t, entries[carolEntry-1], nil, func(b *coffrev1.VaultEntry) { b.TimestampMs -= 3600_000 }),
		"another key index":                           mutateEntry(t, entries[carolEntry-1], nil, func(b *coffrev1.VaultEntry) { b.KeyIndex++ }),
		"a manifest byte changed": mutateEntry(t, entries[carolEntry-1], nil, func(b *coffrev1.VaultEntry) {
			b.Manifests[len(b.Manifests)/2] ^= 1
		}),
		"an older entry's sealed manifests": mutateEntry(t, entries[carolEntry-1], nil, func(b *coffrev1.VaultEntry) {
			_, older := parseEntry(t, entries[carolEntry-2])
			b.Manifests = older.Manifests
		}),
		"a manifest's version changed": mutateEntry(t, entries[carolEntry-1], nil, func(b *coffrev1.VaultEntry) { b.Writes[0].Version++ }),
	}
	// The entry before carol's, alice's, wrote the file and the folder
	// in one batch (SPEC.md §11.5): its writes swapped, or one dropped.
	if _, body := parseEntry(t, entries[carolEntry-2]); len(body.GetWrites()) != 2 || len(body.GetManifests()) == 0 {
		t.Fatalf("entry %d holds %d writes and a batch of %d bytes, want 2 writes in a batch", carolEntry-1, len(body.GetWrites()), len(body.GetManifests()))
	}
	batchRewrites := map[string][]byte{
		"the writes of a batch swapped": mutateEntry(t, entries[carolEntry-2], nil, func(b *coffrev1.VaultEntry) {
			b.Writes[0], b.Writes[1] = b.Writes[1], b.Writes[0]
		}),
		"one write of a batch dropped": mutateEntry(t, entries[carolEntry-2], nil, func(b *coffrev1.VaultEntry) { b.Writes = b.Writes[1:] }),
	}
	for name, forged := range batchRewrites {
		rewrites[name] = forged
	}
	for name, forged := range rewrites {
		t.Run(name, func(t *testing.T) {
			defer w.s.ClearHooks()
			at := carolEntry
			if _, ok := batchRewrites[name]; ok {
				at = carolEntry - 1
			}
			rewriteVaultRead(w.s, w.vault, func(_ *coffrev1.VaultReadRequest, r *coffrev1.VaultReadResponse) {
				for _, e := range r.Entries {
					if e.Position == at {
						e.Data = forged
					}
				}
			})
			_, err := w.sess["bob"].OpenVault(bg(), w.vault)
			wantErr(t, err, vaultlog.ErrEntryRefused)
			w.vaultUnchanged(t, "bob", nil, certificate.Head{})
		})
	}

	// The honest log: authors, users, times and sizes as signed.
	bv := w.open(t, "bob")
	hist, err := bv.History("/doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(contents) {
		t.Fatalf("%d versions, want %d", len(hist), len(contents))
	}
	for i, h := range hist {
		c := contents[i]
		_, body := parseEntry(t, entries[h.Position-1])
		signed := time.UnixMilli(body.GetTimestampMs()).UTC()
		switch {
		case h.Author != w.dev[c.device].DeviceID || h.User != w.user(c.device):
			t.Errorf("version %d by device %s (user %s), want %s's", h.Version, h.Author, h.User, c.device)
		case body.GetAuthor() != h.Author:
			t.Errorf("version %d: author differs from the signed entry's", h.Version)
		case !h.Time.Equal(signed):
			t.Errorf("version %d at %s, signed at %s", h.Version, h.Time, signed)
		case h.Time.Sub(stored[h.Position-1].ReceivedAt).Abs() < time.Minute:
			t.Errorf("version %d: the time shown is the server's receive time", h.Version)
		case h.Manifest.Size != uint64(len(c.content)):
			t.Errorf("version %d: size %d, want %d", h.Version, h.Manifest.Size, len(c.content))
		}
		got, err := bv.Get(bg(), "/doc.txt", h.Time, t.TempDir()+"/v", nil)
		if err != nil || got.Version != h.Version {
			t.Errorf("get as of version %d's time: version %d, %v", h.Version, got.Version, err)
		}
	}
	// Block files are bigger than the content (and could be made bigger
	// still): the size shown is the manifest's.
	b := fileBlocks(t, bv, "/doc.txt")[0]
	w.s.WriteBlock(t, w.org, w.vault, b.ID, append(w.s.Block(t, w.org, w.vault, b.ID), bytes.Repeat([]byte{0}, 1000)...))
	items, err := bv.List("/", zeroTime)
	if err != nil || len(items) != 1 || items[0].Size != uint64(len(contents[2].content)) || items[0].Author != w.user("alice") {
		t.Fatalf("ls: %+v, %v", items, err)
	}
}
