package adversarial

// Helpers of the vault tests (SECURITY.md A3–A4, A6, A9–A14, A16, A20,
// A21, A23 applied to vaults, SPEC.md §11): a world of members sharing a
// vault on the hostile server, file operations that fail the test, checks
// that a refused download left nothing behind and that a device's trusted
// vault state did not move, and the means to forge vault entries and
// manifests by hand (as a colluding member, or with the attacker's key).

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// world is an organisation on a hostile server in which alice (the first
// admin) owns a vault shared with the other members.
type world struct {
	t     *testing.T // the top-level test: sessions live until it ends
	s     *hostile.Server
	org   string
	vault string // the vault's id
	dir   map[string]string
	sess  map[string]*client.Session
	dev   map[string]hostile.Device
}

// member is a user to enrol: name@example.org, with a profile and a role
// in the vault (certificate.RoleNone: not shared).
type member struct {
	name    string
	profile certificate.Profile
	role    certificate.Role
}

// newWorld bootstraps alice, enrols the members, and has alice create a
// vault named vaultName and share it with them.
func newWorld(t *testing.T, vaultName string, members ...member) *world {
	t.Helper()
	names := []string{"alice"}
	for _, m := range members {
		names = append(names, m.name)
	}
	w := &world{t: t, s: hostile.Start(t), dir: dirs(t, names...), sess: map[string]*client.Session{}, dev: map[string]hostile.Device{}}
	w.sess["alice"] = hostile.Bootstrap(t, w.s, w.dir["alice"])
	w.org = w.sess["alice"].Identity().OrganisationID
	for _, m := range members {
		w.sess[m.name] = hostile.Enrol(t, w.sess["alice"], w.dir[m.name], "user", m.name+"@example.org", m.profile)
	}
	for _, n := range names {
		w.dev[n] = hostile.ReadDevice(t, w.dir[n])
	}
	info, err := w.sess["alice"].CreateVault(bg(), vaultName)
	if err != nil {
		t.Fatal(err)
	}
	w.vault = info.ID
	for _, m := range members {
		if m.role == certificate.RoleNone {
			continue
		}
		if _, err := w.sess["alice"].ShareVault(bg(), w.vault, m.name+"@example.org", m.role, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names[1:] {
		mustSync(t, w.sess[n])
	}
	return w
}

// open opens the world's vault as a member would to work in it (syncing
// the organisation log first, then PrepareVault: the rotation or the
// checkpoint it waits for, when this member may write them), failing the
// test on error.
func (w *world) open(t *testing.T, name string) *workspace.Vault {
	t.Helper()
	return w.openID(t, name, w.vault)
}

// openID opens another vault, by id, as a member.
func (w *world) openID(t *testing.T, name, vaultID string) *workspace.Vault {
	t.Helper()
	mustSync(t, w.sess[name])
	v, _, err := w.sess[name].PrepareVault(bg(), vaultID)
	if err != nil {
		t.Fatalf("%s opening vault %s: %v", name, vaultID, err)
	}
	return v
}

// reopen closes a member's session and opens the device again from disk
// (what it trusts after a restart). The new session lives until the
// top-level test ends, even when reopened in a subtest.
func (w *world) reopen(t *testing.T, name string) *client.Session {
	t.Helper()
	w.sess[name].Close()
	s, err := client.Open(bg(), w.dir[name], hostile.Passphrase)
	if err != nil {
		t.Fatalf("reopening %s: %v", name, err)
	}
	w.t.Cleanup(func() { s.Close() })
	w.sess[name] = s
	return s
}

// user returns a member's user id.
func (w *world) user(name string) string { return w.dev[name].UserID }

// keys opens, as the member would, the vault keys sealed to them in the
// member's verified organisation state.
func (w *world) keys(t *testing.T, name string) *workspace.Keys {
	t.Helper()
	org := w.sess[name].Organisation()
	v, ok := org.Vault(w.vault)
	if !ok {
		t.Fatalf("no vault %s in %s's state", w.vault, name)
	}
	k, err := workspace.OpenKeys(org, v, w.user(name), w.dev[name].SealKey)
	if err != nil {
		t.Fatalf("%s's vault keys: %v", name, err)
	}
	return k
}

func put(t *testing.T, v *workspace.Vault, p string, content []byte) workspace.Version {
	t.Helper()
	ver, err := v.Put(bg(), p, bytes.NewReader(content), nil)
	if err != nil {
		t.Fatalf("put %s: %v", p, err)
	}
	return ver
}

func mkdir(t *testing.T, v *workspace.Vault, p string) {
	t.Helper()
	if err := v.Mkdir(bg(), p); err != nil {
		t.Fatalf("mkdir %s: %v", p, err)
	}
}

// get downloads a file into a fresh directory and returns its content.
func get(t *testing.T, v *workspace.Vault, p string) []byte {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "got")
	if _, err := v.Get(bg(), p, time.Time{}, dest, nil); err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	data, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// getRefused downloads a file into a fresh directory and checks that it
// fails with want and leaves nothing there: no destination file, no
// temporary file (SECURITY.md rule (b)).
func getRefused(t *testing.T, v *workspace.Vault, p string, want error) {
	t.Helper()
	dir := t.TempDir()
	_, err := v.Get(bg(), p, time.Time{}, filepath.Join(dir, "got"), nil)
	wantErr(t, err, want)
	emptyDir(t, dir)
}

// emptyDir checks a directory holds no file at all.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("a refused download left %s in its destination's directory", e.Name())
	}
}

// list returns the names in a folder, sorted.
func list(t *testing.T, v *workspace.Vault, p string) []string {
	t.Helper()
	items, err := v.List(p, time.Time{})
	if err != nil {
		t.Fatalf("ls %s: %v", p, err)
	}
	var out []string
	for _, i := range items {
		out = append(out, i.Name)
	}
	sort.Strings(out)
	return out
}

// fileBlocks returns the blocks of the newest version of a file, as the
// member's verified log says.
func fileBlocks(t *testing.T, v *workspace.Vault, p string) []workspace.Block {
	t.Helper()
	ver, err := v.Stat(p, time.Time{})
	if err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return ver.Manifest.Blocks
}

// content returns random content that the vault's chunker (keyed by the
// newest key's chunking secret, SPEC.md §11.3) cuts into at least n
// blocks, so that multi-block files stay small.
func (w *world) content(t *testing.T, n int) []byte {
	t.Helper()
	_, newest := w.keys(t, "alice").Newest()
	secret := workspace.ChunkingSecret(newest)
	for range 50 {
		data := crypto.RandomBytes(n * (workspace.AvgChunk + workspace.MinChunk))
		c := workspace.NewChunker(secret, bytes.NewReader(data))
		count := 0
		for {
			if _, err := c.Next(); err != nil {
				break
			}
			count++
		}
		if count >= n {
			return data
		}
	}
	t.Fatalf("no random content of %d blocks", n)
	return nil
}

// vaultUnchanged checks the opened vault's verified head is still want,
// then closes the member's session and checks the head the device stored
// is want too (its trusted state did not advance, SECURITY.md rule (d)).
// It returns the reopened session.
func (w *world) vaultUnchanged(t *testing.T, name string, v *workspace.Vault, want certificate.Head) *client.Session {
	t.Helper()
	if v != nil && !sameHead(v.Log().Head, want) {
		t.Errorf("%s's verified vault head moved: %d, want %d", name, v.Log().Head.Position, want.Position)
	}
	w.sess[name].Close()
	got, ok := hostile.VaultHeadOnDisk(t, w.dir[name], w.vault)
	if want.Position == 0 {
		if ok && got.Position != 0 {
			t.Errorf("%s stored vault head %d, want none", name, got.Position)
		}
	} else if !ok || !sameHead(got, want) {
		t.Errorf("%s's vault head on disk moved: %d (stored %v), want %d", name, got.Position, ok, want.Position)
	}
	return w.reopen(t, name)
}

// blockSet returns the ids of the blocks stored for the world's vault.
func (w *world) blockSet(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for id := range w.s.Blocks(t, w.org, w.vault) {
		out[id] = true
	}
	return out
}

// --- playing the server: VaultRead answers -----------------------------------

// rewriteVaultRead changes every successful VaultRead answer for vault.
func rewriteVaultRead(s *hostile.Server, vault string, fn func(req *coffrev1.VaultReadRequest, resp *coffrev1.VaultReadResponse)) {
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method != coffrev1.CoffreService_VaultRead_FullMethodName || err != nil {
			return resp, err
		}
		r := req.(*coffrev1.VaultReadRequest)
		if r.GetVaultId() == vault {
			fn(r, resp.(*coffrev1.VaultReadResponse))
		}
		return resp, err
	})
}

// serveVaultExtra makes VaultRead answers end with extra entries after the
// real head, as if they were in the vault's log.
func serveVaultExtra(s *hostile.Server, vault string, extra ...[]byte) {
	rewriteVaultRead(s, vault, func(req *coffrev1.VaultReadRequest, r *coffrev1.VaultReadResponse) {
		head := r.HeadPosition
		for i, data := range extra {
			if pos := head + uint64(i) + 1; pos >= req.GetFrom() {
				r.Entries = append(r.Entries, &coffrev1.LogEntry{Position: pos, Data: data})
			}
		}
		r.HeadPosition = head + uint64(len(extra))
	})
}

// --- forging vault entries and manifests ---------------------------------------

// manifestAAD, blockAAD and nameAAD reproduce the associated data of
// SPEC.md §11.2–11.3, so that the tests can try keys on ciphertexts and
// forge what a member could.
func manifestAAD(org, vault, id string, version uint64, index uint32) []byte {
	d := crypto.LabeledSum("aad/manifest", []byte(org), []byte(vault), []byte(id),
		binary.BigEndian.AppendUint64(nil, version), binary.BigEndian.AppendUint32(nil, index))
	return d[:]
}

func blockAAD(org, vault, block string) []byte {
	d := crypto.LabeledSum("aad/block", []byte(org), []byte(vault), []byte(block))
	return d[:]
}

// padded pads a block's plaintext with zeros to its bucket, as a writer
// does before encrypting it (SPEC.md §11.3).
func padded(plain []byte) []byte {
	out := make([]byte, workspace.PaddedSize(uint64(len(plain))))
	copy(out, plain)
	return out
}

func nameAAD(org, vault string, index uint32) []byte {
	d := crypto.LabeledSum("aad/vault-name", []byte(org), []byte(vault), binary.BigEndian.AppendUint32(nil, index))
	return d[:]
}

// sealManifest encrypts a manifest as version `version` of its id under
// vault key `index` (SPEC.md §11.3).
func sealManifest(t *testing.T, org, vault string, version uint64, index uint32, key crypto.SecretKey, m *coffrev1.Manifest) []byte {
	t.Helper()
	plain, err := deterministic.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return crypto.DeriveKey(key.Bytes(), "manifest", nil).Encrypt(manifestAAD(org, vault, m.GetId(), version, index), plain)
}

// batchAAD reproduces the associated data of a format-2 entry's manifest
// batch (SPEC.md §11.5): the entry's place, key index, and each write's
// id and version in order.
func batchAAD(org, vault string, position uint64, index uint32, writes []vaultlog.Write) []byte {
	parts := [][]byte{[]byte(org), []byte(vault), binary.BigEndian.AppendUint64(nil, position), binary.BigEndian.AppendUint32(nil, index)}
	for _, w := range writes {
		parts = append(parts, []byte(w.ManifestID), binary.BigEndian.AppendUint64(nil, w.Version))
	}
	d := crypto.LabeledSum("aad/manifests", parts...)
	return d[:]
}

// entryWrites are a stored entry body's writes with their ids as text.
func entryWrites(t *testing.T, body *coffrev1.VaultEntry) []vaultlog.Write {
	t.Helper()
	var out []vaultlog.Write
	for _, w := range body.GetWrites() {
		id := w.GetManifestId()
		if len(w.GetRawId()) != 0 {
			var ok bool
			if id, ok = vaultlog.ParseCompactID("", w.GetRawId()); !ok {
				t.Fatalf("a raw id of %d bytes", len(w.GetRawId()))
			}
		}
		out = append(out, vaultlog.Write{ManifestID: id, Version: w.GetVersion(), Ciphertext: w.GetCiphertext()})
	}
	return out
}

// setWrites sets a format-2 entry body's writes, ids raw where they can be.
func setWrites(body *coffrev1.VaultEntry, writes []vaultlog.Write) {
	body.FormatVersion = vaultlog.FormatVersion
	body.Writes = nil
	for _, w := range writes {
		mw := &coffrev1.ManifestWrite{Version: w.Version}
		mw.ManifestId, mw.RawId = vaultlog.CompactID(w.ManifestID)
		body.Writes = append(body.Writes, mw)
	}
}

// sealBatch encrypts a manifest batch for body's place and writes under
// vault key index, as a format-2 entry carries it.
func sealBatch(t *testing.T, org, vault string, body *coffrev1.VaultEntry, key crypto.SecretKey, b *coffrev1.ManifestBatch) []byte {
	t.Helper()
	plain, err := deterministic.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return crypto.DeriveKey(key.Bytes(), "manifest", nil).Encrypt(batchAAD(org, vault, body.GetPosition(), body.GetKeyIndex(), entryWrites(t, body)), plain)
}

// openBatch decrypts a format-2 entry body's manifests with a vault key,
// as if written under key index.
func openBatch(t *testing.T, org, vault string, body *coffrev1.VaultEntry, index uint32, key crypto.SecretKey) (*coffrev1.ManifestBatch, error) {
	t.Helper()
	plain, err := crypto.DeriveKey(key.Bytes(), "manifest", nil).Decrypt(batchAAD(org, vault, body.GetPosition(), index, entryWrites(t, body)), body.GetManifests())
	if err != nil {
		return nil, err
	}
	var b coffrev1.ManifestBatch
	if err := proto.Unmarshal(plain, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// batchManifest converts a verified manifest back to its form in a batch
// whose parents are the given list (SPEC.md §11.3: ids raw, block offsets
// and the last block's size implied).
func batchManifest(m *workspace.Manifest, parents []string) *coffrev1.BatchManifest {
	w := wireManifest(m)
	out := &coffrev1.BatchManifest{FormatVersion: w.GetFormatVersion()}
	if i := slices.Index(parents, m.Parent); i >= 0 {
		out.Parent = uint32(i + 1)
	}
	if f := w.GetFolder(); f != nil {
		for _, e := range f.GetEntries() {
			e.Id, e.RawId = vaultlog.CompactID(e.GetId())
		}
		for _, p := range f.GetPages() {
			p.Id, p.RawId = vaultlog.CompactID(p.GetId())
		}
		out.Kind = &coffrev1.BatchManifest_Folder{Folder: f}
		return out
	}
	f := w.GetFile()
	for i, b := range f.GetBlocks() {
		b.Id, b.RawId = vaultlog.CompactID(b.GetId())
		b.Offset = 0
		if i == len(f.GetBlocks())-1 {
			b.Size = 0
		}
	}
	out.Kind = &coffrev1.BatchManifest_File{File: f}
	return out
}

// wireManifest converts a verified manifest back to its plaintext form.
func wireManifest(m *workspace.Manifest) *coffrev1.Manifest {
	out := &coffrev1.Manifest{FormatVersion: workspace.ManifestFormat, Id: m.ID, Parent: m.Parent, UpdatedMs: time.Now().UnixMilli()}
	if m.Folder && m.Pages != nil {
		out.FormatVersion = workspace.PagedFormat
		f := &coffrev1.FolderManifest{PageCount: uint32(len(m.Pages))}
		for _, p := range m.Pages {
			f.Pages = append(f.Pages, &coffrev1.FolderPageRef{Id: p.ID, Digest: p.Digest[:], Key: p.Key.Bytes(), EntryCount: p.Entries, Low: p.Low})
			f.EntryCount += uint64(p.Entries)
		}
		out.Kind = &coffrev1.Manifest_Folder{Folder: f}
		return out
	}
	if m.Folder {
		f := &coffrev1.FolderManifest{}
		for _, c := range m.Children {
			f.Entries = append(f.Entries, &coffrev1.FolderEntry{Name: c.Name, Id: c.ID, Folder: c.Folder})
		}
		out.Kind = &coffrev1.Manifest_Folder{Folder: f}
		return out
	}
	f := &coffrev1.FileManifest{Size: m.Size}
	for _, b := range m.Blocks {
		f.Blocks = append(f.Blocks, &coffrev1.BlockRef{Id: b.ID, Key: b.Key.Bytes(), Digest: b.Digest[:], Offset: b.Offset, Size: b.Size})
	}
	out.Kind = &coffrev1.Manifest_File{File: f}
	return out
}

// parseEntry decodes stored vault entry bytes.
func parseEntry(t *testing.T, data []byte) (*coffrev1.SignedVaultEntry, *coffrev1.VaultEntry) {
	t.Helper()
	var signed coffrev1.SignedVaultEntry
	var body coffrev1.VaultEntry
	if err := proto.Unmarshal(data, &signed); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(signed.Body, &body); err != nil {
		t.Fatal(err)
	}
	return &signed, &body
}

// signEntry encodes and signs a vault entry body as its author would
// (SPEC.md §11.5), whatever it holds.
func signEntry(t *testing.T, key *crypto.SigningKey, body *coffrev1.VaultEntry) []byte {
	t.Helper()
	b, err := deterministic.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := deterministic.Marshal(&coffrev1.SignedVaultEntry{Body: b, Signature: key.Sign("vault-entry", b)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mutateEntry changes an entry's body and signs it again with key, or
// keeps the original signature when key is nil.
func mutateEntry(t *testing.T, data []byte, key *crypto.SigningKey, change func(*coffrev1.VaultEntry)) []byte {
	t.Helper()
	signed, body := parseEntry(t, data)
	change(body)
	if key != nil {
		return signEntry(t, key, body)
	}
	b, err := deterministic.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := deterministic.Marshal(&coffrev1.SignedVaultEntry{Body: b, Signature: signed.Signature})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// draftEntry is the body of the next entry of the world's vault as the
// server stores it, claiming org's head, by author, under key index.
func (w *world) draftEntry(t *testing.T, org *certificate.Organisation, author string, index uint32) *coffrev1.VaultEntry {
	t.Helper()
	head := w.s.VaultHead(t, w.org, w.vault)
	return &coffrev1.VaultEntry{
		FormatVersion: 1, OrganisationId: w.org, VaultId: w.vault, Author: author,
		TimestampMs: time.Now().UnixMilli(), Position: head.Position + 1, PreviousHash: head.Hash,
		OrganisationPosition: org.Head.Position, OrganisationHash: org.Head.Hash, KeyIndex: index,
	}
}

// addFile returns the writes that add an empty file `name` to the root
// folder of the verified log l, encrypted under vault key index: a new
// version of the root, and the file's first version.
func (w *world) addFile(t *testing.T, l *workspace.Log, index uint32, key crypto.SecretKey, name string) []*coffrev1.ManifestWrite {
	t.Helper()
	root := workspace.RootID(w.vault)
	folder := &workspace.Manifest{ID: root, Folder: true}
	if cur, ok := l.Latest(root); ok {
		folder = cur.Manifest
	}
	rootWire := wireManifest(folder)
	fileID := certificate.NewID()
	entries := append(slices.Clone(rootWire.GetFolder().GetEntries()), &coffrev1.FolderEntry{Name: name, Id: fileID})
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	rootWire.Kind = &coffrev1.Manifest_Folder{Folder: &coffrev1.FolderManifest{Entries: entries}}
	file := &coffrev1.Manifest{FormatVersion: workspace.ManifestFormat, Id: fileID, Parent: root, UpdatedMs: time.Now().UnixMilli(),
		Kind: &coffrev1.Manifest_File{File: &coffrev1.FileManifest{}}}
	return []*coffrev1.ManifestWrite{
		{ManifestId: root, Version: l.NextVersion(root), Ciphertext: sealManifest(t, w.org, w.vault, l.NextVersion(root), index, key, rootWire)},
		{ManifestId: fileID, Version: 1, Ciphertext: sealManifest(t, w.org, w.vault, 1, index, key, file)},
	}
}

// forgeAddFile signs, as author with key, the next entry of the vault: it
// adds an empty file `name` to the root under vault key index, claiming
// the head of org.
func (w *world) forgeAddFile(t *testing.T, l *workspace.Log, org *certificate.Organisation, author string, key *crypto.SigningKey, index uint32, vaultKey crypto.SecretKey, name string) []byte {
	t.Helper()
	body := w.draftEntry(t, org, author, index)
	body.Writes = w.addFile(t, l, index, vaultKey, name)
	return signEntry(t, key, body)
}

// canaryForms are the forms of a canary a careless encoder could store.
var canaryForms = hostile.CanaryForms

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
func b64url(b []byte) string { return base64.URLEncoding.EncodeToString(b) }

var utf16le = hostile.UTF16LE

// zeroTime means "the newest version" to Stat, List and Get.
var zeroTime time.Time

// methodsOf runs fn while the server records calls, fails the test if fn
// fails, and returns the methods called, in order.
func (w *world) methodsOf(t *testing.T, fn func() error) []string {
	t.Helper()
	rec := w.s.Record()
	err := fn()
	calls := rec.Calls()
	w.s.StopRecording()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range calls {
		got = append(got, c.Method)
	}
	return got
}
