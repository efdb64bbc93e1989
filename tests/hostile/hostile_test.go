package hostile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/wire"
	"github.com/coffre/coffre/workspace"
)

func TestMain(m *testing.M) {
	FastKeys()
	os.Exit(Main(m))
}

// TestHarness checks the harness itself: an honest run works end to end,
// and every hostile power does what it says.
func TestHarness(t *testing.T) {
	t.Parallel()
	s := Start(t)
	base := t.TempDir()
	adminDir, userDir, devDir := filepath.Join(base, "admin"), filepath.Join(base, "user"), filepath.Join(base, "dev")
	admin := Bootstrap(t, s, adminDir)
	org := admin.Identity().OrganisationID
	user := Enrol(t, admin, userDir, "user", "user@example.org", certificate.ProfileStandard)
	dev := Enrol(t, user, devDir, "device", "", 0)
	if err := admin.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := admin.Head().Position; got != 5 {
		t.Fatalf("head %d, want 5", got)
	}
	if u, _ := dev.Me(); u == nil || u.ID != user.Identity().UserID {
		t.Fatal("device enrolled for the wrong user")
	}

	// Keys from the key file are the ones in the log.
	d := ReadDevice(t, userDir)
	logged, _ := admin.Organisation().Device(d.DeviceID)
	if logged == nil || !logged.VerifyKey.Equal(d.SigningKey.Public()) {
		t.Fatal("key file and log disagree")
	}

	// Raw signed calls authenticate; the state view matches.
	raw := s.Dial(t, d.Signer())
	if _, err := raw.Hello(context.Background(), &coffrev1.HelloRequest{}); err != nil {
		t.Fatalf("raw signed call: %v", err)
	}
	if st := s.LogState(t, org); st.Head.Position != 5 || string(st.Head.Hash) != string(admin.Head().Hash) {
		t.Fatal("LogState differs from the client's head")
	}

	// Rewriting and recording.
	rec := s.Record()
	s.RewriteUnary(func(method string, req, resp any, err error) (any, error) {
		if method == coffrev1.CoffreService_Hello_FullMethodName {
			return nil, wire.ErrForbidden
		}
		return resp, err
	})
	if _, _, err := admin.Hello(context.Background()); !errors.Is(err, wire.ErrForbidden) {
		t.Fatalf("rewritten Hello: %v", err)
	}
	s.ClearHooks()
	s.StopRecording()
	if calls := rec.Calls(); len(calls) != 1 || calls[0].Method != coffrev1.CoffreService_Hello_FullMethodName {
		t.Fatalf("recorded %v", calls)
	}

	// Snapshot, change, restore: the same links keep working.
	snap := s.Snapshot()
	if _, err := admin.SetProfile(context.Background(), "user@example.org", certificate.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	s.Restore(snap)
	if len(s.Log(t, org)) != 5 {
		t.Fatal("restore did not roll the log back")
	}
	if err := user.Sync(context.Background()); err != nil {
		t.Fatalf("sync after restore: %v", err)
	}

	// A replaced entry makes the server refuse to serve its own store.
	entries := s.Log(t, org)
	forged := append([]byte(nil), entries[3]...)
	forged[len(forged)-1] ^= 1 // inside the signature
	s.ReplaceLogEntry(t, org, 4, forged)
	if err := user.Sync(context.Background()); err == nil {
		t.Fatal("a store with a forged entry was served")
	}
	s.ReplaceLogEntry(t, org, 4, entries[3])
	if err := user.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Streams can be intercepted too.
	s.InterceptStream(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return wire.Status(wire.ErrForbidden)
	})
	w, err := s.Dial(t, d.Signer()).Watch(context.Background(), &coffrev1.WatchRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	if wire.FromStatus(err) != wire.ErrForbidden {
		t.Fatalf("intercepted Watch: %v", err)
	}
	s.ClearHooks()

	// Log edits.
	s.SwapLogEntries(t, org, 4, 5)
	s.SwapLogEntries(t, org, 4, 5)
	s.TruncateLog(t, org, 4)
	if st := s.LogState(t, org); st.Head.Position != 4 {
		t.Fatalf("truncated head %d", st.Head.Position)
	}

	// The clock moves: device calls fail, then work again.
	s.Clock.Advance(time.Hour)
	if _, _, err := admin.Hello(context.Background()); !errors.Is(err, wire.ErrUnauthenticated) {
		t.Fatalf("Hello with the server an hour ahead: %v", err)
	}
	s.Clock.Advance(-time.Hour)
	if _, _, err := admin.Hello(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A wrong code aborts both sides.
	l, inv := Invite(t, admin, "user", "third@example.org", certificate.ProfileStandard)
	res := RunEnrolment(t, admin, l, inv, filepath.Join(base, "third"), EnrolOptions{ClaimerTypes: func(string) string { return "ZZZZ" }})
	if !errors.Is(res.ClaimErr, client.ErrSASMismatch) || res.GreetErr == nil {
		t.Fatalf("wrong code: greeter %v, claimer %v", res.GreetErr, res.ClaimErr)
	}
}

// TestVaultHarness checks the vault powers: blocks are stored where
// BlockPath says and can be rewritten, vault logs read, edited, truncated
// and appended to, the whole data directory snapshotted and restored, and
// a device's stored vault head read back.
func TestVaultHarness(t *testing.T) {
	t.Parallel()
	s := Start(t)
	dir := filepath.Join(t.TempDir(), "admin")
	admin := Bootstrap(t, s, dir)
	org := admin.Identity().OrganisationID
	info, err := admin.CreateVault(context.Background(), "harness")
	if err != nil {
		t.Fatal(err)
	}
	v, err := admin.OpenVault(context.Background(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A new vault's log holds its creator's checkpoint (SPEC.md §11.5).
	if h := s.VaultHead(t, org, info.ID); h.Position != 1 || !sameHead(h, v.Log().Head) {
		t.Fatalf("new vault head %d", h.Position)
	}
	snap := s.SnapshotAll()
	if _, err := v.Put(context.Background(), "/a.txt", strings.NewReader("hello"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(context.Background(), "/b.txt", strings.NewReader("world"), nil); err != nil {
		t.Fatal(err)
	}
	ver, _ := v.Stat("/a.txt", time.Time{})
	id := ver.Manifest.Blocks[0].ID
	if blocks := s.Blocks(t, org, info.ID); len(blocks) != 2 || !bytes.Equal(blocks[id], s.Block(t, org, info.ID, id)) {
		t.Fatalf("%d blocks", len(blocks))
	}
	if b, _ := Backend(); b == Embedded {
		if _, err := os.Stat(s.BlockPath(org, info.ID, id)); err != nil {
			t.Fatal(err)
		}
	}
	entries := s.VaultLog(t, org, info.ID)
	head := v.Log().Head
	if len(entries) != 3 || !sameHead(s.VaultHead(t, org, info.ID), head) {
		t.Fatalf("%d entries, stored head differs from the client's", len(entries))
	}
	// Editing with the identity keeps the chain; truncating and appending
	// raw bytes give it back.
	s.EditVaultLog(t, org, info.ID, func(e [][]byte) [][]byte { return e })
	s.TruncateVaultLog(t, org, info.ID, 2)
	s.AppendVaultRaw(t, org, info.ID, entries[2])
	if !sameHead(s.VaultHead(t, org, info.ID), head) {
		t.Fatal("the edited log's head differs")
	}
	if err := v.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A rewritten block is served as written.
	s.WriteBlock(t, org, info.ID, id, []byte("garbage"))
	os.RemoveAll(filepath.Join(dir, "cache"))
	if _, err := v.Get(context.Background(), "/a.txt", time.Time{}, filepath.Join(t.TempDir(), "a"), nil); !errors.Is(err, workspace.ErrBadBlock) {
		t.Fatalf("rewritten block: %v", err)
	}
	// The device's stored head, read back once its session is closed.
	admin.Close()
	if got, ok := VaultHeadOnDisk(t, dir, info.ID); !ok || !sameHead(got, head) {
		t.Fatalf("head on disk %d (%v), want %d", got.Position, ok, head.Position)
	}
	// A full restore rolls back the vault log and the blocks.
	s.RestoreAll(snap)
	if len(s.VaultLog(t, org, info.ID)) != 1 || len(s.Blocks(t, org, info.ID)) != 0 {
		t.Fatal("RestoreAll did not roll the vault back")
	}
}

func sameHead(a, b certificate.Head) bool {
	return a.Position == b.Position && bytes.Equal(a.Hash, b.Hash)
}

// TestEditsLookLikeTheStore checks that the edits write what the store's
// own appends write, on every backend: an edit that changes nothing, and
// a restore of a snapshot, leave every stored entry (hashes and times
// included), head and record as they were.
func TestEditsLookLikeTheStore(t *testing.T) {
	t.Parallel()
	s := Start(t)
	base := t.TempDir()
	admin := Bootstrap(t, s, filepath.Join(base, "admin"))
	org := admin.Identity().OrganisationID
	Enrol(t, admin, filepath.Join(base, "user"), "user", "user@example.org", certificate.ProfileStandard)
	Invite(t, admin, "user", "pending@example.org", certificate.ProfileStandard)
	info, err := admin.CreateVault(context.Background(), "edits")
	if err != nil {
		t.Fatal(err)
	}
	v, err := admin.OpenVault(context.Background(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/a.txt", "/b.txt"} {
		if _, err := v.Put(context.Background(), name, strings.NewReader(name), nil); err != nil {
			t.Fatal(err)
		}
	}
	type state struct {
		log, vault []store.LogEntry
		head, vh   store.Head
		org        store.Organisation
		invs       []store.Invitation
		blocks     map[string][]byte
	}
	read := func() state {
		t.Helper()
		var st state
		var err error
		ctx := context.Background()
		if st.log, err = s.readLog(org); err != nil {
			t.Fatal(err)
		}
		if st.vault, err = s.readVaultLog(org, info.ID); err != nil {
			t.Fatal(err)
		}
		if st.head, err = s.Store().LogHead(ctx, org); err != nil {
			t.Fatal(err)
		}
		if st.vh, err = s.Store().VaultLogHead(ctx, org, info.ID); err != nil {
			t.Fatal(err)
		}
		if st.org, err = s.Store().Organisation(ctx, org); err != nil {
			t.Fatal(err)
		}
		if st.invs, err = s.Store().Invitations(ctx, org); err != nil {
			t.Fatal(err)
		}
		st.blocks = s.AllBlocks(t)
		return st
	}
	same := func(what string, a, b state) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s changed the stored state:\n%+v\n%+v", what, a, b)
		}
	}
	before := read()
	if len(before.log) != 5 || len(before.vault) != 3 || len(before.invs) != 2 || len(before.blocks) != 2 {
		t.Fatalf("%d entries, %d vault entries, %d invitations, %d blocks", len(before.log), len(before.vault), len(before.invs), len(before.blocks))
	}
	s.EditLog(t, org, func(e [][]byte) [][]byte { return e })
	s.EditVaultLog(t, org, info.ID, func(e [][]byte) [][]byte { return e })
	same("editing nothing", before, read())

	snap := s.SnapshotAll()
	s.TruncateLog(t, org, 4)
	s.EditVaultLog(t, org, info.ID, func([][]byte) [][]byte { return nil })
	for id := range s.Blocks(t, org, info.ID) {
		s.RemoveBlock(t, org, info.ID, id)
	}
	if h := s.VaultHead(t, org, info.ID); h.Position != 0 || !bytes.Equal(h.Hash, vaultlog.VaultGenesis(org, info.ID)) {
		t.Fatalf("emptied vault log: head %d", h.Position)
	}
	if len(s.AllBlocks(t)) != 0 {
		t.Fatal("blocks left")
	}
	s.RestoreAll(snap)
	same("a full restore", before, read())
	if err := v.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := admin.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSmallBlockTamperingRefused: with the small blocks of batches in the
// bolt file (WithSmallBlocks, as coffre-server run keeps them), the block
// powers reach them, and a small block the server replaces is refused by
// the client. The replacement is another plaintext of the same size
// encrypted under the block's real key and associated data: it opens, so
// only the block's signed digest catches it (SECURITY.md A21). A removed
// small block fails the read; written back (as a file), it reads again.
func TestSmallBlockTamperingRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := Start(t, WithSmallBlocks())
	dir := filepath.Join(t.TempDir(), "admin")
	admin := Bootstrap(t, s, dir)
	org := admin.Identity().OrganisationID
	info, err := admin.CreateVault(ctx, "small blocks")
	if err != nil {
		t.Fatal(err)
	}
	v, err := admin.OpenVault(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	file := func(content string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }
	}
	if _, err := v.PutFiles(ctx, []workspace.PutItem{{Path: "/a.txt", Open: file("a, a small file")}, {Path: "/b.txt", Open: file("b")}}); err != nil {
		t.Fatal(err)
	}
	ver, err := v.Stat("/a.txt", time.Time{})
	if err != nil || len(ver.Manifest.Blocks) != 1 {
		t.Fatalf("stat: %v", err)
	}
	b := ver.Manifest.Blocks[0]
	if backend, _ := Backend(); backend == Embedded {
		if _, err := os.Stat(s.BlockPath(org, info.ID, b.ID)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the block of a batch is a file (%v), not a small block of coffre.db", err)
		}
	}
	stored := s.Block(t, org, info.ID, b.ID)
	if blocks := s.Blocks(t, org, info.ID); len(blocks) != 2 || !bytes.Equal(blocks[b.ID], stored) {
		t.Fatalf("Blocks lists %d blocks", len(blocks))
	}
	get := func() (string, error) {
		os.RemoveAll(filepath.Join(dir, "cache"))
		out := filepath.Join(t.TempDir(), "a")
		if _, err := v.Get(ctx, "/a.txt", time.Time{}, out, nil); err != nil {
			return "", err
		}
		got, err := os.ReadFile(out)
		return string(got), err
	}
	if got, err := get(); err != nil || got != "a, a small file" {
		t.Fatalf("honest read: %q, %v", got, err)
	}

	aad := crypto.LabeledSum("aad/block", []byte(org), []byte(info.ID), []byte(b.ID))
	plain := make([]byte, workspace.PaddedSize(uint64(len("a, a small file"))))
	copy(plain, "A, a forged one")
	s.WriteBlock(t, org, info.ID, b.ID, b.Key.Encrypt(aad[:], plain))
	if _, err := b.Key.Decrypt(aad[:], s.Block(t, org, info.ID, b.ID)); err != nil {
		t.Fatalf("the forged small block does not open under the block's key (%v): the digest is not what this tests", err)
	}
	if got, err := get(); !errors.Is(err, workspace.ErrBadBlock) {
		t.Fatalf("replaced small block: read %q, %v; want %v", got, err, workspace.ErrBadBlock)
	}

	s.RemoveBlock(t, org, info.ID, b.ID)
	if got, err := get(); err == nil {
		t.Fatalf("removed small block: read %q", got)
	}
	s.WriteBlock(t, org, info.ID, b.ID, stored)
	if got, err := get(); err != nil || got != "a, a small file" {
		t.Fatalf("block written back: read %q, %v", got, err)
	}
}
