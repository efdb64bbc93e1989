package adversarial

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/coffre/coffre/certificate"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// TestA72ManifestBatchBoundToItsWrites: an entry of format 2 carries the
// manifests of all its writes as one sealed batch (SPEC.md §11.5), in
// which a manifest has no id of its own: it is the manifest of the write
// at its place. A contributor's client signs entries, which the honest
// server stores (it can't read a batch), that pair a batch with other
// writes than it was sealed for: another writer's batch replayed as the
// next versions of its manifests (a file rolled back), the same batch for
// its writes in another order (one file's content shown under another's
// name), and batches of its own holding one manifest fewer or one more
// than its writes. Every reader quarantines each entry, attributed to its
// signer, and shows the files as they were (SECURITY.md A72). The server
// alone can't pair them otherwise: the signature covers the writes and
// the batch (TestA12AuthorAndMetadataFromSignature).
func TestA72ManifestBatchBoundToItsWrites(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "a72",
		member{"bob", certificate.ProfileStandard, certificate.RoleReader},
		member{"carol", certificate.ProfileStandard, certificate.RoleContributor})
	av := w.open(t, "alice")
	item := func(p, content string) workspace.PutItem {
		return workspace.PutItem{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }}
	}
	if _, err := av.PutFiles(bg(), []workspace.PutItem{item("/f.txt", "f, version 1"), item("/g.txt", "g, version 1")}); err != nil {
		t.Fatal(err)
	}
	first := w.s.VaultHead(t, w.org, w.vault).Position
	put(t, av, "/f.txt", []byte("f, version 2"))

	cv := w.open(t, "carol")
	carol := w.dev["carol"]
	api := w.s.Dial(t, carol.Signer())
	state := w.s.LogState(t, w.org)
	index, key := w.keys(t, "carol").Newest()
	root := workspace.RootID(w.vault)
	_, batched := parseEntry(t, w.s.VaultLog(t, w.org, w.vault)[first-1])
	if len(batched.GetWrites()) != 3 || len(batched.GetManifests()) == 0 {
		t.Fatalf("alice's entry %d: %d writes, a batch of %d bytes; want the folder and two files in one batch", first, len(batched.GetWrites()), len(batched.GetManifests()))
	}
	// next is carol's next entry: writes at their next versions.
	next := func(ids ...string) *coffrev1.VaultEntry {
		body := w.draftEntry(t, state, carol.DeviceID, index)
		var writes []vaultlog.Write
		for _, id := range ids {
			writes = append(writes, vaultlog.Write{ManifestID: id, Version: cv.Log().NextVersion(id)})
		}
		setWrites(body, writes)
		return body
	}
	replay := func(order []int) *coffrev1.VaultEntry {
		ws := entryWrites(t, batched)
		var ids []string
		for _, i := range order {
			ids = append(ids, ws[i].ManifestID)
		}
		body := next(ids...)
		body.Manifests = batched.GetManifests()
		return body
	}
	// own seals carol's own batch of the given manifests for writes ids.
	own := func(manifests []*workspace.Manifest, ids ...string) *coffrev1.VaultEntry {
		body := next(ids...)
		b := &coffrev1.ManifestBatch{Parents: []string{root}}
		for _, m := range manifests {
			b.Manifests = append(b.Manifests, batchManifest(m, b.Parents))
		}
		body.Manifests = sealBatch(t, w.org, w.vault, body, key, b)
		return body
	}
	h := &workspace.Manifest{ID: certificate.NewID(), Parent: root}
	withH := *mustLatest(t, cv.Log(), root)
	withH.Children = append(slices.Clone(withH.Children), workspace.ChildEntry{Name: "h.txt", ID: h.ID})

	bv := w.open(t, "bob")
	quarantined := 0
	for _, c := range []struct {
		name  string
		entry func() *coffrev1.VaultEntry
	}{
		{"alice's batch replayed as the next versions", func() *coffrev1.VaultEntry { return replay([]int{0, 1, 2}) }},
		{"alice's batch for its writes in another order", func() *coffrev1.VaultEntry { return replay([]int{0, 2, 1}) }},
		{"a batch one manifest short of its writes", func() *coffrev1.VaultEntry {
			return own([]*workspace.Manifest{&withH}, root, h.ID)
		}},
		{"a batch one manifest beyond its writes", func() *coffrev1.VaultEntry {
			return own([]*workspace.Manifest{&withH, h}, root)
		}},
	} {
		if _, err := api.VaultAppend(bg(), &coffrev1.VaultAppendRequest{VaultId: w.vault, Entry: signEntry(t, carol.SigningKey, c.entry())}); err != nil {
			t.Fatalf("%s: the server refused an entry it can't tell from a good one: %v", c.name, err)
		}
		quarantined++
		for name, v := range map[string]*workspace.Vault{"bob": bv, "carol": cv} {
			mustSyncVault(t, v)
			q := v.Log().Quarantined()
			if len(q) != quarantined || q[len(q)-1].Position != v.Log().Head.Position || q[len(q)-1].Author != carol.DeviceID {
				t.Fatalf("%s: %s's quarantine %+v, want entry %d by carol's device", c.name, name, q, v.Log().Head.Position)
			}
			if got := list(t, v, "/"); !slices.Equal(got, []string{"f.txt", "g.txt"}) {
				t.Errorf("%s: %s lists %v", c.name, name, got)
			}
			if f, g := string(get(t, v, "/f.txt")), string(get(t, v, "/g.txt")); f != "f, version 2" || g != "g, version 1" {
				t.Errorf("%s: %s reads f %q, g %q", c.name, name, f, g)
			}
		}
	}

	// Control: carol's own batch, one manifest per write, is taken.
	body := own([]*workspace.Manifest{&withH, h}, root, h.ID)
	if _, err := api.VaultAppend(bg(), &coffrev1.VaultAppendRequest{VaultId: w.vault, Entry: signEntry(t, carol.SigningKey, body)}); err != nil {
		t.Fatal(err)
	}
	mustSyncVault(t, bv)
	if got := list(t, bv, "/"); !slices.Equal(got, []string{"f.txt", "g.txt", "h.txt"}) || len(bv.Log().Quarantined()) != quarantined {
		t.Errorf("control: a well-formed batch by carol: bob lists %v, %d quarantined", got, len(bv.Log().Quarantined()))
	}
}
