package workspace

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/crypto"
	coffrev1 "github.com/coffre/coffre/proto/gen/coffre/v1"
	"github.com/coffre/coffre/vaultlog"
)

func TestSplitPath(t *testing.T) {
	for in, want := range map[string]string{"/": "", "": "", "/a/b": "a|b", "a//b/": "a|b", "/a/./b": "a|b", "/a/../b": "b"} {
		names, err := SplitPath(in)
		if err != nil || strings.Join(names, "|") != want {
			t.Errorf("SplitPath(%q) = %q, %v; want %q", in, names, err, want)
		}
	}
	for _, bad := range []string{"/a\x00b", "/" + strings.Repeat("x", 256)} {
		if _, err := SplitPath(bad); err == nil {
			t.Errorf("SplitPath(%q) accepted", bad)
		}
	}
}

func testManifest() *Manifest {
	k := crypto.NewSecretKey()
	return &Manifest{ID: "0123456789abcdef", Parent: "fedcba9876543210", Size: 15, Blocks: []Block{
		{ID: "aaaaaaaaaaaaaaaa", Key: k, Digest: crypto.Sum([]byte("0123456789")), Offset: 0, Size: 10},
		{ID: "bbbbbbbbbbbbbbbb", Key: k, Digest: crypto.Sum([]byte("abcde")), Offset: 10, Size: 5},
	}}
}

func TestManifestIsBoundToItsPlace(t *testing.T) {
	key := crypto.NewSecretKey()
	m := testManifest()
	ct, err := encryptManifest("org", "vault", 3, 1, key, m)
	if err != nil {
		t.Fatal(err)
	}
	w := vaultlog.Write{ManifestID: m.ID, Version: 3, Ciphertext: ct}
	got, err := decryptManifest("org", "vault", w, 1, key)
	if err != nil || got.Size != 15 || len(got.Blocks) != 2 || got.Parent != m.Parent {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// Moved anywhere else, the same bytes don't open (SECURITY.md A3).
	for name, place := range map[string]func() (vaultlog.Write, string, uint32){
		"other version": func() (vaultlog.Write, string, uint32) { w := w; w.Version = 4; return w, "vault", 1 },
		"other id": func() (vaultlog.Write, string, uint32) {
			w := w
			w.ManifestID = "1111111111111111"
			return w, "vault", 1
		},
		"other vault":   func() (vaultlog.Write, string, uint32) { return w, "other", 1 },
		"other key idx": func() (vaultlog.Write, string, uint32) { return w, "vault", 2 },
	} {
		w2, vault, idx := place()
		if _, err := decryptManifest("org", vault, w2, idx, key); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: got %v, want ErrBadManifest", name, err)
		}
	}
}

func TestManifestBlockListMustCoverTheFile(t *testing.T) {
	key := crypto.NewSecretKey()
	for name, edit := range map[string]func(*Manifest){
		"gap":          func(m *Manifest) { m.Blocks[1].Offset = 11 },
		"overlap":      func(m *Manifest) { m.Blocks[1].Offset = 9 },
		"size too big": func(m *Manifest) { m.Size = 16 },
		"truncated":    func(m *Manifest) { m.Blocks = m.Blocks[:1] },
		"empty block":  func(m *Manifest) { m.Blocks[1].Size = 0; m.Size = 10 },
	} {
		m := testManifest()
		edit(m)
		ct, err := encryptManifest("org", "vault", 1, 1, key, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decryptManifest("org", "vault", vaultlog.Write{ManifestID: m.ID, Version: 1, Ciphertext: ct}, 1, key); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: got %v, want ErrBadManifest", name, err)
		}
	}
}

func TestFolderNamesChecked(t *testing.T) {
	key := crypto.NewSecretKey()
	for name, children := range map[string][]ChildEntry{
		"duplicate": {{Name: "a", ID: "1111111111111111"}, {Name: "a", ID: "2222222222222222"}},
		"slash":     {{Name: "a/b", ID: "1111111111111111"}},
		"dotdot":    {{Name: "..", ID: "1111111111111111"}},
	} {
		m := &Manifest{ID: "0123456789abcdef", Parent: "fedcba9876543210", Folder: true, Children: children}
		ct, _ := encryptManifest("org", "vault", 1, 1, key, m)
		if _, err := decryptManifest("org", "vault", vaultlog.Write{ManifestID: m.ID, Version: 1, Ciphertext: ct}, 1, key); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: got %v, want ErrBadManifest", name, err)
		}
	}
}

func FuzzDecryptManifest(f *testing.F) {
	key := crypto.NewSecretKey()
	m := testManifest()
	plain, _ := proto.Marshal(&coffrev1.Manifest{FormatVersion: ManifestFormat, Id: m.ID, Parent: m.Parent,
		Kind: &coffrev1.Manifest_File{File: &coffrev1.FileManifest{Size: 1, Blocks: []*coffrev1.BlockRef{
			{Id: "aaaaaaaaaaaaaaaa", Key: key.Bytes(), Digest: make([]byte, 32), Offset: 0, Size: 1}}}}})
	f.Add(plain)
	paged, _ := proto.Marshal(&coffrev1.Manifest{FormatVersion: PagedFormat, Id: m.ID, Parent: m.Parent,
		Kind: &coffrev1.Manifest_Folder{Folder: &coffrev1.FolderManifest{PageCount: 2, EntryCount: 3, Pages: []*coffrev1.FolderPageRef{
			{Id: "aaaaaaaaaaaaaaaa", Key: key.Bytes(), Digest: make([]byte, 32), EntryCount: 1},
			{Id: "bbbbbbbbbbbbbbbb", Key: key.Bytes(), Digest: make([]byte, 32), EntryCount: 2, Low: "m"}}}}})
	f.Add(paged)
	f.Fuzz(func(t *testing.T, plain []byte) {
		// Whatever a member with the key wrote, reading it never panics and
		// never yields a file whose blocks don't cover it exactly.
		k := crypto.DeriveKey(key.Bytes(), labelManifest, nil)
		ct := k.Encrypt(manifestAAD("org", "vault", m.ID, 1, 1), plain)
		got, err := decryptManifest("org", "vault", vaultlog.Write{ManifestID: m.ID, Version: 1, Ciphertext: ct}, 1, key)
		if err != nil {
			return
		}
		if got.Folder && got.Pages != nil {
			if len(got.Children) != 0 || got.Pages[0].Low != "" {
				t.Fatal("accepted a folder in pages with entries, or a first page not from the start")
			}
			for i := 1; i < len(got.Pages); i++ {
				if got.Pages[i].Low <= got.Pages[i-1].Low {
					t.Fatal("accepted pages out of order")
				}
			}
		}
		if !got.Folder {
			var covered uint64
			for _, b := range got.Blocks {
				if b.Offset != covered {
					t.Fatal("accepted a gap or an overlap")
				}
				covered += b.Size
			}
			if covered != got.Size {
				t.Fatal("accepted blocks that don't cover the size")
			}
		}
	})
}

// TestFolderChildUnderManyNamesRefused: a writer lists the same child
// under 100 names in each of 5 nested folders; walking that tree would
// visit 100^5 paths. Every such folder is refused when it is read, so the
// walk stays small (SECURITY.md A33).
func TestFolderChildUnderManyNamesRefused(t *testing.T) {
	const names, levels = 100, 5
	key := crypto.NewSecretKey()
	l := NewLog("org", "vault")
	ids := []string{RootID("vault")}
	for i := 1; i <= levels; i++ {
		ids = append(ids, fmt.Sprintf("%016x", i))
	}
	refused := 0
	for i := range levels {
		m := &Manifest{ID: ids[i], Folder: true}
		if i > 0 {
			m.Parent = ids[i-1]
		}
		for n := range names {
			m.Children = append(m.Children, ChildEntry{Name: fmt.Sprintf("n%03d", n), ID: ids[i+1], Folder: i+1 < levels})
		}
		ct, err := encryptManifest("org", "vault", 1, 1, key, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decryptManifest("org", "vault", vaultlog.Write{ManifestID: m.ID, Version: 1, Ciphertext: ct}, 1, key)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("level %d: %v, want ErrBadManifest", i, err)
			}
			refused++
			continue
		}
		l.versions[got.ID] = append(l.versions[got.ID], Version{Manifest: got, Version: 1})
	}
	l.versions[ids[levels]] = []Version{{Manifest: &Manifest{ID: ids[levels], Parent: ids[levels-1]}, Version: 1}}
	visits := 0
	errTooMany := errors.New("too many paths")
	err := (&Vault{log: l}).Walk(func(string, Version) error {
		if visits++; visits > 10_000 {
			return errTooMany
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v after %d paths (a child under many names was accepted)", err, visits)
	}
	if refused != levels {
		t.Fatalf("%d of %d folders listing one child under %d names were refused", refused, levels, names)
	}
}
