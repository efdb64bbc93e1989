package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/vaultlog"
)

// server plays the server's side of a vault as a Remote and Blocks: it
// keeps what it is sent, and a test rewrites its log to lie.
type server struct {
	mu     sync.Mutex
	log    [][]byte
	blocks map[string][]byte
	// declared holds the blocks each append declared (SPEC.md §7.5).
	declared [][]string
}

func (s *server) Append(_ context.Context, _ string, entry []byte, blocks []string, pages []FolderPages) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := vaultlog.ParseEntry(entry)
	if err != nil {
		return err
	}
	if e.Position != uint64(len(s.log))+1 {
		return certificate.ErrConflict
	}
	if blocks == nil {
		return errors.New("an append declared no blocks at all (nil), not even an empty list")
	}
	for _, id := range blocks {
		if _, ok := s.blocks[id]; !ok {
			return fmt.Errorf("an append declared block %s, which was never uploaded", id)
		}
	}
	for _, f := range pages {
		for _, id := range f.Pages {
			if !slices.Contains(blocks, id) {
				return fmt.Errorf("an append declared page %s of folder %s, not among its blocks", id, f.Folder)
			}
		}
	}
	s.log = append(s.log, entry)
	s.declared = append(s.declared, blocks)
	return nil
}

func (s *server) Read(_ context.Context, _ string, from uint64, _, _ bool) ([]RemoteEntry, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RemoteEntry
	for p := max(from, 1); p <= uint64(len(s.log)); p++ {
		out = append(out, RemoteEntry{Position: p, Data: s.log[p-1]})
	}
	return out, uint64(len(s.log)), nil
}

func (s *server) ConfirmFresh(context.Context, string, uint32, certificate.Head, certificate.Head) error {
	return nil
}

func (s *server) PutBlock(_ context.Context, _, id string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocks == nil {
		s.blocks = map[string][]byte{}
	}
	s.blocks[id] = bytes.Clone(data) // as over the wire: the caller reuses its buffer
	return nil
}

func (s *server) GetBlock(_ context.Context, _, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.blocks[id]), nil // as over the wire: the reader decrypts it in place
}

// setLog replaces the server's log with a copy of log.
func (s *server) setLog(log [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = slices.Clone(log)
}

func (s *server) entries() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// member is an organisation of one administrator with one device, and a
// vault they own.
type member struct {
	org    *certificate.Organisation
	vault  *certificate.Vault
	user   string
	seal   *crypto.SealKey
	writer Writer
}

func newMember(t *testing.T) *member {
	t.Helper()
	root, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	device, err := crypto.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	seal, err := crypto.GenerateSealKey()
	if err != nil {
		t.Fatal(err)
	}
	m := &member{org: certificate.NewOrganisation(certificate.NewID(), root.Public()), user: certificate.NewID(), seal: seal}
	m.writer = Writer{DeviceID: certificate.NewID(), UserID: m.user, Key: device}
	now := time.Now().Add(-time.Minute)
	apply := func(certs [][]byte, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range certs {
			if _, err := m.org.Apply(m.org.Head.Position+1, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(m.org.SignNext(root, "", now,
		certificate.UserCreated{UserID: m.user, Name: "Alice", Email: "alice@example.org", Profile: certificate.ProfileAdmin, SealKey: seal.Public()},
		certificate.DeviceAdded{DeviceID: m.writer.DeviceID, UserID: m.user, Label: "laptop", VerifyKey: device.Public()}))
	me, _ := m.org.User(m.user)
	id := certificate.NewID()
	key, bundle, err := NewKeyBundle(m.org.ID, id, 1, []*certificate.User{me}, nil)
	if err != nil {
		t.Fatal(err)
	}
	apply(m.org.SignNext(device, m.writer.DeviceID, now.Add(time.Second),
		certificate.VaultCreated{VaultID: id, EncryptedName: EncryptName(m.org.ID, id, 1, key, "v"), Key: bundle}))
	m.vault, _ = m.org.Vault(id)
	return m
}

// open opens the vault from an empty log against srv.
func (m *member) open(t *testing.T, srv *server, d Deps) *Vault {
	t.Helper()
	keys, err := OpenKeys(m.org, m.vault, m.user, m.seal)
	if err != nil {
		t.Fatal(err)
	}
	d.Org, d.Vault, d.Keys, d.Log = m.org, m.vault, keys, NewLog(m.org.ID, m.vault.ID)
	d.Remote, d.Blocks, d.Writer = srv, srv, m.writer
	d.Persist = func(string, []RemoteEntry, certificate.Head) error { return nil }
	v := Open(d)
	if err := v.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return v
}

// A vault log rolled back or forked by the server is the one
// certificate.ErrRollback or certificate.ErrFork of every log, and the
// verified state stays as it was (SECURITY.md A13, A14, A31).
func TestVaultRollbackAndForkAreTheCertificateSentinels(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	v := m.open(t, srv, Deps{})
	for _, dir := range []string{"/a", "/b"} {
		if err := v.Mkdir(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	honest := srv.entries()
	head := v.Log().Head

	srv.setLog(honest[:1])
	if err := v.Sync(ctx); !errors.Is(err, certificate.ErrRollback) {
		t.Fatalf("a shorter vault log: got %v, want certificate.ErrRollback", err)
	}

	// Another entry at position 2, validly signed: a branch of equal length.
	other := &server{}
	other.setLog(honest[:1])
	if err := m.open(t, other, Deps{}).Mkdir(ctx, "/c"); err != nil {
		t.Fatal(err)
	}
	srv.setLog(other.entries())
	if err := v.Sync(ctx); !errors.Is(err, certificate.ErrFork) {
		t.Fatalf("another entry at the verified head: got %v, want certificate.ErrFork", err)
	}

	// Entries that don't extend the verified head: the chain breaks.
	srv.setLog(append(slices.Clone(honest), other.entries()[1]))
	if err := v.Sync(ctx); !errors.Is(err, certificate.ErrFork) || !errors.Is(err, certificate.ErrChain) {
		t.Fatalf("an entry off the chain: got %v, want certificate.ErrFork and ErrChain", err)
	}

	if got := v.Log().Head; got.Position != head.Position || !bytes.Equal(got.Hash, head.Hash) {
		t.Fatalf("the verified head moved to %d after refusals", got.Position)
	}
	srv.setLog(honest)
	if err := v.Sync(ctx); err != nil {
		t.Fatalf("the honest log again: %v", err)
	}
}

// cache records what a vault tells its BlockCache.
type cache struct {
	mu       sync.Mutex
	verified []string
}

func (c *cache) BlockVerified(_, id string, _ []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verified = append(c.verified, id)
}

func (c *cache) BlockRejected(string, string) {}

// The optional capabilities of Deps are used when present, and the clock
// dates the writes.
func TestVaultDeps(t *testing.T) {
	ctx := context.Background()
	m := newMember(t)
	srv := &server{}
	c := &cache{}
	at := time.Now().Add(-10 * time.Second).Truncate(time.Millisecond).UTC()
	v := m.open(t, srv, Deps{Cache: c, Clock: func() time.Time { return at }, Parallel: 1})
	ver, err := v.Put(ctx, "/f", bytes.NewReader([]byte("hello")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ver.Time.Equal(at) {
		t.Fatalf("written at %v, want the clock's %v", ver.Time, at)
	}
	var out bytes.Buffer
	if _, err := v.WriteTo(ctx, "/f", time.Time{}, &out, nil); err != nil || out.String() != "hello" {
		t.Fatalf("read back %q, %v", out.String(), err)
	}
	if len(c.verified) != 1 || c.verified[0] != ver.Manifest.Blocks[0].ID {
		t.Fatalf("the cache was told %v, want the file's one block", c.verified)
	}
}
