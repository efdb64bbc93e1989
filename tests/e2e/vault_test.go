package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Vault helpers

// names returns the sorted keys of a listing.
func names(items map[string]Item) []string {
	return slices.Sorted(maps.Keys(items))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// writeTree creates files (path → content; a path ending in "/" is an
// empty folder) under dir.
func writeTree(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree is the inverse of writeTree.
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				out[rel+"/"] = nil
			}
			return nil
		}
		out[rel] = readFile(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t testing.TB, what string, got, want map[string][]byte) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: %s is missing", what, p)
		case !bytes.Equal(g, w):
			t.Errorf("%s: %s differs (%d bytes, want %d)", what, p, len(g), len(w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %s", what, p)
		}
	}
}

// rfc3339Mark waits a little over a second, returns the time as RFC 3339
// (truncated to the second) and waits again: everything before the call is
// at or before the mark, everything after it is after.
func rfc3339Mark() string {
	time.Sleep(1100 * time.Millisecond)
	mark := time.Now().UTC().Format(time.RFC3339)
	time.Sleep(1100 * time.Millisecond)
	return mark
}

// vaultOrg is an organisation with Alice (admin), Bob and Carol (standard)
// and Olga (outsider), each on one device.
type vaultOrg struct {
	srv                     *Server
	alice, bob, carol, olga *Device
}

// startVaultOrg starts an organisation with the people whose names are
// given among "bob", "carol", "olga" (Alice always).
func startVaultOrg(t *testing.T, domain string, people ...string) *vaultOrg {
	t.Helper()
	org := StartOrganisation(t, "Clinique "+domain, "Alice", "alice@"+domain)
	o := &vaultOrg{srv: org.Server, alice: org.Admin}
	for _, p := range people {
		d := NewDevice(t, p)
		profile := "standard"
		if p == "olga" {
			profile = "outsider"
		}
		EnrolUser(t, o.alice, p+"@"+domain, profile, d, strings.ToUpper(p[:1])+p[1:])
		switch p {
		case "bob":
			o.bob = d
		case "carol":
			o.carol = d
		case "olga":
			o.olga = d
		default:
			t.Fatalf("unknown person %q", p)
		}
	}
	return o
}

// ---------------------------------------------------------------------------
// Tests

// TestVaults is a vault's life: created, filled with files and folders,
// shared with each role and its limits, unshared with one batched key
// rotation, written, moved, versioned, read as of a date, renamed and
// archived.
func TestVaults(t *testing.T) {
	longScenario(t)
	t.Parallel()
	const d = "parc.example"
	o := startVaultOrg(t, d, "bob", "carol", "olga")
	alice, bob, carol, olga := o.alice, o.bob, o.carol, o.olga
	aliceEmail, bobEmail, carolEmail, olgaEmail := "alice@"+d, "bob@"+d, "carol@"+d, "olga@"+d

	// Alice creates the vault: she is its only member, as owner.
	if out := alice.MustRun("vault", "create", "cardio"); !strings.Contains(out, `vault "cardio" created`) {
		t.Errorf("vault create did not say so:\n%s", out)
	}
	v := alice.Vault("cardio")
	if v.Role != "owner" || v.KeyIndex != 1 || v.Archived || v.NeedsRotation || len(v.Members) != 1 || v.Roles()[aliceEmail] != "owner" {
		t.Fatalf("new vault: %+v, want Alice its only member, as owner, key 1", v)
	}
	if got := bob.Vaults(); len(got) != 0 {
		t.Errorf("Bob sees vaults he is not a member of: %+v", got)
	}

	// A file of a few blocks, and a folder with nested files and an empty
	// folder, put recursively.
	local := t.TempDir()
	report1 := randomBytes(2<<20 + 12345)
	reportFile := filepath.Join(local, "report.pdf")
	if err := os.WriteFile(reportFile, report1, 0o600); err != nil {
		t.Fatal(err)
	}
	scans := map[string][]byte{
		"a.txt":              []byte("first scan\n"),
		"sub/b.bin":          randomBytes(1<<20 + 1),
		"sub/deeper/c.txt":   []byte("deep\n"),
		"sub/deeper/zero":    {},
		"empty/":             nil,
		"name with spaces é": []byte("unicode\n"),
	}
	scansDir := filepath.Join(local, "scans")
	writeTree(t, scansDir, scans)
	alice.MustRun("put", reportFile, "cardio:/report.pdf")
	alice.MustRun("put", scansDir, "cardio:/scans")

	root := alice.Ls("cardio:/")
	if got := names(root); !slices.Equal(got, []string{"report.pdf", "scans"}) {
		t.Errorf("ls cardio:/ = %v, want report.pdf, scans", got)
	}
	if r := root["report.pdf"]; r.Folder || r.Size != uint64(len(report1)) || r.Version != 1 || r.Author != aliceEmail {
		t.Errorf("report.pdf listed as %+v, want a file of %d bytes, v1, by %s", r, len(report1), aliceEmail)
	}
	if s := root["scans"]; !s.Folder {
		t.Errorf("scans listed as %+v, want a folder", s)
	}
	if got := names(alice.Ls("cardio:/scans")); !slices.Equal(got, []string{"a.txt", "empty", "name with spaces é", "sub"}) {
		t.Errorf("ls cardio:/scans = %v", got)
	}
	if sub := alice.Ls("cardio:/scans/sub/deeper"); sub["c.txt"].Size != 5 || sub["zero"].Size != 0 || len(sub) != 2 {
		t.Errorf("ls cardio:/scans/sub/deeper = %+v", sub)
	}
	// ls of a file describes it.
	if one := alice.Ls("cardio:/scans/sub/b.bin"); len(one) != 1 || one["b.bin"].Size != 1<<20+1 {
		t.Errorf("ls of a file: %+v", one)
	}

	// Both come back byte for byte; the folder recursively.
	if got := alice.GetBytes("cardio:/report.pdf"); !bytes.Equal(got, report1) {
		t.Errorf("report.pdf came back different (%d bytes, want %d)", len(got), len(report1))
	}
	back := filepath.Join(t.TempDir(), "scans-back")
	alice.MustRun("get", "cardio:/scans", back)
	sameTree(t, "get cardio:/scans", readTree(t, back), scans)
	// get into an existing folder keeps the file's name.
	into := t.TempDir()
	alice.MustRun("get", "cardio:/scans/a.txt", into)
	if got := readFile(t, filepath.Join(into, "a.txt")); string(got) != "first scan\n" {
		t.Errorf("get into a folder: %q", got)
	}

	// Bob, reader, lists and reads, and can't write.
	alice.MustRun("vault", "share", "cardio", bobEmail, "--role", "reader")
	if bv := bob.Vault("cardio"); bv.Role != "reader" || bv.ID != v.ID || bv.Roles()[aliceEmail] != "owner" || bv.Roles()[bobEmail] != "reader" {
		t.Errorf("Bob sees %+v, want himself reader and Alice owner", bv)
	}
	if got := names(bob.Ls("cardio:/")); !slices.Equal(got, []string{"report.pdf", "scans"}) {
		t.Errorf("Bob lists %v", got)
	}
	if got := bob.GetBytes("cardio:/report.pdf"); !bytes.Equal(got, report1) {
		t.Errorf("Bob reads a different report.pdf")
	}
	bobFile := filepath.Join(t.TempDir(), "bob.txt")
	os.WriteFile(bobFile, []byte("Bob was here\n"), 0o600)
	bob.MustFail("does not allow writing", "put", bobFile, "cardio:/bob.txt")
	bob.MustFail("does not allow writing", "mkdir", "cardio:/bobs")
	bob.MustFail("does not allow writing", "rm", "cardio:/report.pdf")
	bob.MustFail("only an owner or a manager", "vault", "share", "cardio", carolEmail, "--role", "reader")
	if _, ok := alice.Ls("cardio:/")["bob.txt"]; ok {
		t.Errorf("a reader's put was written")
	}

	// Carol, manager, grants contributor and reader only.
	alice.MustRun("vault", "share", "cardio", carolEmail, "--role", "manager")
	carol.MustRun("vault", "share", "cardio", olgaEmail, "--role", "contributor")
	// Each refusal names the rule it breaks (the client checks the change
	// against the log's rules before sending it; the server would refuse
	// it anyway).
	carol.MustFail("a manager grants and removes only contributors and readers", "vault", "share", "cardio", bobEmail, "--role", "manager")
	carol.MustFail("a manager grants and removes only contributors and readers", "vault", "share", "cardio", bobEmail, "--role", "owner")
	carol.MustFail("a manager grants and removes only contributors and readers", "vault", "share", "cardio", aliceEmail, "--role", "reader")
	// Nobody makes an outsider owner or manager, not even the owner.
	alice.MustFail("an outsider can't own or manage a vault", "vault", "share", "cardio", olgaEmail, "--role", "manager")
	alice.MustFail("an outsider can't own or manage a vault", "vault", "share", "cardio", olgaEmail, "--role", "owner")
	// Nobody changes their own role; the last owner can't leave.
	alice.MustFail("nobody changes their own role", "vault", "share", "cardio", aliceEmail, "--role", "reader")
	alice.MustFail("nobody changes their own role", "vault", "unshare", "cardio", aliceEmail)
	carol.MustFail("nobody changes their own role", "vault", "share", "cardio", carolEmail, "--role", "owner")
	// Outsiders can't create vaults.
	olga.MustFail("outsider", "vault", "create", "olga's")
	v = alice.Vault("cardio")
	if want := map[string]string{aliceEmail: "owner", bobEmail: "reader", carolEmail: "manager", olgaEmail: "contributor"}; !maps.Equal(v.Roles(), want) {
		t.Errorf("members %v, want %v", v.Roles(), want)
	}
	if v.KeyIndex != 1 || v.NeedsRotation {
		t.Errorf("sharing changed the key: %+v", v)
	}

	// Olga, contributor, writes.
	olgaFile := filepath.Join(t.TempDir(), "olga.txt")
	olgaText := []byte("written by Olga before the rotation\n")
	os.WriteFile(olgaFile, olgaText, 0o600)
	olga.MustRun("put", olgaFile, "cardio:/olga.txt")
	if i := alice.Ls("cardio:/")["olga.txt"]; i.Author != olgaEmail {
		t.Errorf("olga.txt listed as %+v, want by %s", i, olgaEmail)
	}

	// One unshare of two members: one new key.
	out := alice.MustRun("vault", "unshare", "cardio", bobEmail, olgaEmail)
	if !strings.Contains(out, "rotated") {
		t.Errorf("unshare did not say the key was rotated:\n%s", out)
	}
	v = alice.Vault("cardio")
	if v.KeyIndex != 2 {
		t.Errorf("after unsharing two members at once, key %d, want 2 (one rotation)", v.KeyIndex)
	}
	if want := map[string]string{aliceEmail: "owner", carolEmail: "manager"}; !maps.Equal(v.Roles(), want) || v.NeedsRotation {
		t.Errorf("after unshare: %+v, want members %v and no rotation pending", v, want)
	}
	if got := bob.Vaults(); len(got) != 0 {
		t.Errorf("Bob still sees %+v", got)
	}
	// They are told they were removed, by whom and when (issue 12).
	removed := `you are no longer a member of vault "cardio" (removed by Alice <alice@` + d + `> on `
	bob.MustFail(removed, "ls", "cardio:/")
	bob.MustFail(removed, "get", "cardio:/report.pdf", filepath.Join(t.TempDir(), "x"))
	bob.MustFail(removed, "ls", v.ID+":/") // by id too
	olga.MustFail(removed, "put", olgaFile, "cardio:/olga2.txt")

	// Current members read what was written before the rotation, and what
	// is written after it.
	if got := carol.GetBytes("cardio:/report.pdf"); !bytes.Equal(got, report1) {
		t.Errorf("Carol can't read report.pdf after the rotation")
	}
	if got := carol.GetBytes("cardio:/olga.txt"); !bytes.Equal(got, olgaText) {
		t.Errorf("Carol can't read olga.txt after the rotation")
	}
	after := filepath.Join(t.TempDir(), "after.txt")
	os.WriteFile(after, []byte("after the rotation\n"), 0o600)
	alice.MustRun("put", after, "cardio:/after.txt")
	if got := carol.GetBytes("cardio:/after.txt"); string(got) != "after the rotation\n" {
		t.Errorf("Carol reads %q", got)
	}
	// Bob, back as a reader, gets the newest key and, through it, the
	// older ones: he reads what was written before and after.
	alice.MustRun("vault", "share", "cardio", bobEmail, "--role", "reader")
	if got := bob.GetBytes("cardio:/after.txt"); string(got) != "after the rotation\n" {
		t.Errorf("Bob, back, reads %q", got)
	}
	if got := bob.GetBytes("cardio:/olga.txt"); !bytes.Equal(got, olgaText) {
		t.Errorf("Bob, back, can't read what was written with the first key")
	}
	if v := alice.Vault("cardio"); v.KeyIndex != 2 || v.Roles()[bobEmail] != "reader" {
		t.Errorf("after Bob is back: %+v, want key 2, Bob reader", v)
	}

	// Folders: mkdir, mv, rm; the state before is kept for --at.
	beforeMoves := rfc3339Mark()
	alice.MustRun("mkdir", "cardio:/2026")
	alice.MustRun("mv", "cardio:/report.pdf", "cardio:/2026/report.pdf")
	alice.MustRun("mv", "cardio:/after.txt", "cardio:/after-rotation.txt") // rename in place
	alice.MustRun("rm", "cardio:/scans/a.txt")
	alice.MustFail("not empty", "rm", "cardio:/scans/sub")
	alice.MustRun("rm", "cardio:/scans/empty")
	alice.MustFail("already exists", "mkdir", "cardio:/2026")
	alice.MustFail("into itself", "mv", "cardio:/scans", "cardio:/scans/sub/scans")
	if got := names(carol.Ls("cardio:/")); !slices.Equal(got, []string{"2026", "after-rotation.txt", "olga.txt", "scans"}) {
		t.Errorf("after mkdir and mv, ls cardio:/ = %v", got)
	}
	if got := names(carol.Ls("cardio:/scans")); !slices.Equal(got, []string{"name with spaces é", "sub"}) {
		t.Errorf("after rm, ls cardio:/scans = %v", got)
	}
	if got := carol.GetBytes("cardio:/2026/report.pdf"); !bytes.Equal(got, report1) {
		t.Errorf("the moved report.pdf reads differently")
	}
	// The vault as it was before.
	if got := names(carol.Ls("cardio:/", "--at", beforeMoves)); !slices.Equal(got, []string{"after.txt", "olga.txt", "report.pdf", "scans"}) {
		t.Errorf("ls --at %s cardio:/ = %v, want the state before the moves", beforeMoves, got)
	}
	if got := names(carol.Ls("cardio:/scans", "--at", beforeMoves)); !slices.Equal(got, []string{"a.txt", "empty", "name with spaces é", "sub"}) {
		t.Errorf("ls --at %s cardio:/scans = %v", beforeMoves, got)
	}
	if got := carol.GetBytes("cardio:/scans/a.txt", "--at", beforeMoves); string(got) != "first scan\n" {
		t.Errorf("get --at of a removed file: %q", got)
	}
	carol.MustFail("no such file or folder", "get", "cardio:/scans/a.txt", filepath.Join(t.TempDir(), "x"))

	// Versions: Carol writes report.pdf again, then Alice; every version is
	// kept with its author; restore makes v1 current as a new version.
	report2, report3 := randomBytes(100_000), []byte("third version\n")
	carolReport, aliceReport := filepath.Join(t.TempDir(), "r2"), filepath.Join(t.TempDir(), "r3")
	os.WriteFile(carolReport, report2, 0o600)
	os.WriteFile(aliceReport, report3, 0o600)
	carol.MustRun("put", carolReport, "cardio:/2026/report.pdf")
	beforeV3 := rfc3339Mark()
	alice.MustRun("put", aliceReport, "cardio:/2026/report.pdf")
	hist := carol.History("cardio:/2026/report.pdf")
	// v1 put, v2 the move to 2026/ (a new parent), v3 Carol, v4 Alice.
	type want struct {
		size   int
		author string
	}
	wantHist := []want{{len(report1), aliceEmail}, {len(report1), aliceEmail}, {len(report2), carolEmail}, {len(report3), aliceEmail}}
	checkHist := func(hist []FileVersion, wantHist []want) {
		t.Helper()
		if len(hist) != len(wantHist) {
			t.Fatalf("history has %d versions, want %d: %+v", len(hist), len(wantHist), hist)
		}
		for i, h := range hist {
			if h.Version != uint64(i+1) || h.Size != uint64(wantHist[i].size) || h.Author != wantHist[i].author || h.Time.IsZero() || h.Device == "" {
				t.Errorf("version %d: %+v, want v%d, %d bytes, by %s, with a time and a device", i+1, h, i+1, wantHist[i].size, wantHist[i].author)
			}
			if i > 0 && h.Time.Before(hist[i-1].Time) {
				t.Errorf("version %d is dated before version %d", i+1, i)
			}
		}
	}
	checkHist(hist, wantHist)
	if text := carol.MustRun("history", "cardio:/2026/report.pdf"); !strings.Contains(text, carolEmail) || !strings.Contains(text, "v4") {
		t.Errorf("history text lacks authors or versions:\n%s", text)
	}
	if got := carol.GetBytes("cardio:/2026/report.pdf", "--at", beforeV3); !bytes.Equal(got, report2) {
		t.Errorf("get --at %s: not Carol's version", beforeV3)
	}
	if i := carol.Ls("cardio:/2026", "--at", beforeV3)["report.pdf"]; i.Version != 3 || i.Author != carolEmail {
		t.Errorf("ls --at %s: %+v, want v3 by Carol", beforeV3, i)
	}
	carol.MustRun("restore", "cardio:/2026/report.pdf", "--version", "1")
	if got := alice.GetBytes("cardio:/2026/report.pdf"); !bytes.Equal(got, report1) {
		t.Errorf("after restore --version 1, report.pdf is not v1 (%d bytes)", len(got))
	}
	checkHist(alice.History("cardio:/2026/report.pdf"), append(wantHist, want{len(report1), carolEmail}))
	carol.MustFail("versions 1 to 5", "restore", "cardio:/2026/report.pdf", "--version", "9")

	// Paths.
	alice.MustFail("no such file or folder", "get", "cardio:/nothing/here", filepath.Join(t.TempDir(), "x"))
	alice.MustFail("no such file or folder", "ls", "cardio:/nothing")
	alice.MustFail("no such file or folder", "history", "cardio:/nothing")
	alice.MustFail("/nothing: no such folder in the vault", "put", after, "cardio:/nothing/x.txt")
	alice.MustFail("not a folder", "ls", "cardio:/olga.txt/x")
	alice.MustRun("mkdir", "cardio:/a")
	alice.MustRun("mkdir", "cardio:/a//b/") // cleaned to /a/b
	if got := names(alice.Ls("cardio:/a")); !slices.Equal(got, []string{"b"}) {
		t.Errorf("mkdir cardio:/a//b/ made %v in /a, want b", got)
	}
	// A file put onto a folder goes inside it, as with cp (issue 12).
	alice.MustRun("put", after, "cardio:/a/b")
	if got := names(alice.Ls("cardio:/a/b")); !slices.Equal(got, []string{"after.txt"}) {
		t.Errorf("put onto the folder /a/b made %v in it, want after.txt", got)
	}
	alice.MustFail("want VAULT:/path", "put", after, ":/x")
	alice.MustFail("want VAULT:/path", "ls", "cardio")
	alice.MustFail("already exists", "mkdir", "cardio:/")
	alice.MustFail("no such vault", "ls", "cardiology:/")
	alice.MustFail("a vault needs a name", "vault", "create", " ")

	// Rename: the new name everywhere, the old one nowhere.
	alice.MustRun("vault", "rename", "cardio", "cardiologie")
	if cv := carol.Vault("cardiologie"); cv.ID != v.ID {
		t.Errorf("renamed vault has id %s, want %s", cv.ID, v.ID)
	}
	carol.MustFail("no such vault", "ls", "cardio:/")
	if got := carol.GetBytes("cardiologie:/olga.txt"); !bytes.Equal(got, olgaText) {
		t.Errorf("olga.txt after the rename: %q", got)
	}

	// Archive: readable, not writable.
	carol.MustFail("only an owner may archive", "vault", "archive", "cardiologie")
	alice.MustRun("vault", "archive", "cardiologie")
	if av := carol.Vault("cardiologie"); !av.Archived {
		t.Errorf("archived vault listed as %+v", av)
	}
	carol.MustFail("archived", "put", after, "cardiologie:/late.txt")
	alice.MustFail("archived", "mkdir", "cardiologie:/late")
	if got := carol.GetBytes("cardiologie:/2026/report.pdf"); !bytes.Equal(got, report1) {
		t.Errorf("an archived vault reads differently")
	}
	alice.MustRun("vault", "archive", "--undo", "cardiologie")
	alice.MustRun("mkdir", "cardiologie:/reopened")

	// An empty name is refused on rename as on create.
	alice.MustFail("a vault needs a name", "vault", "rename", "cardiologie", "")
	alice.MustFail("a vault needs a name", "vault", "rename", "cardiologie", "  ")
	alice.Vault("cardiologie")
}

// writeStdin writes b to a background command's standard input; it
// returns once the command has read all but a pipe's worth of it.
func writeStdin(t testing.TB, p *Process, b []byte) {
	t.Helper()
	if _, err := p.Stdin.Write(b); err != nil {
		t.Fatalf("writing to the command's standard input: %v (stderr: %s)", err, p.Stderr())
	}
}

// TestGrantEndsByItself shares a vault until a moment: the member reads
// until then, the server refuses them from then on, and the owner's next
// opening of the vault rotates its key.
func TestGrantEndsByItself(t *testing.T) {
	longScenario(t)
	const d = "tilleuls.example"
	o := startVaultOrg(t, d, "bob")
	alice, bob := o.alice, o.bob
	alice.MustRun("vault", "create", "cardio")
	note := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(note, []byte("before the end\n"), 0o600)
	alice.MustRun("put", note, "cardio:/note.txt")

	// A grant of a few seconds: enough for Bob's two commands below (and
	// the share itself) to start before it ends, at the pace commands run
	// on this machine. (RFC 3339 counts whole seconds.)
	r := alice.Run("put", note, "cardio:/note2.txt")
	if !r.OK() {
		t.Fatalf("want success: %s", r)
	}
	until := time.Now().Add(max(8*time.Second, 5*r.Elapsed+3*time.Second)).Truncate(time.Second)
	alice.MustRun("vault", "share", "cardio", "bob@"+d, "--role", "contributor", "--until", until.UTC().Format(time.RFC3339))
	for _, m := range alice.Vault("cardio").Members {
		if m.Email == "bob@"+d && (m.Until == nil || !m.Until.Equal(until)) {
			t.Errorf("Bob's grant ends at %v, want %v", m.Until, until)
		}
	}
	if got := bob.GetBytes("cardio:/note.txt"); string(got) != "before the end\n" {
		t.Errorf("Bob reads %q", got)
	}
	// Bob starts a put before the end and sends most of it after: the
	// server refuses the blocks that come after the end.
	put := bob.Start(commandTimeout, nil, "put", "-", "cardio:/late.bin")
	if _, err := put.Stdin.Write(randomBytes(1<<20 + 256<<10)); err != nil || time.Now().After(until) {
		// Returns once Bob's client reads, after its checks.
		t.Fatalf("Bob's put started after his grant ended (%v), the machine is slow: make the grant longer; %s", until, put.Wait())
	}
	time.Sleep(time.Until(until) + 500*time.Millisecond)
	put.Stdin.Write(randomBytes(3 << 20))
	wantOneLineError(t, put.Wait(), "not allowed")

	v := alice.Vault("cardio")
	if v.KeyIndex != 1 {
		t.Fatalf("after the share: %+v", v)
	}
	for _, m := range v.Members {
		if m.Email == "bob@"+d {
			t.Errorf("Bob is still listed as a member after his grant ended: %+v", m)
		}
	}
	// From then on, Bob's client refuses too, and the server would anyway.
	if r := bob.Run("ls", "cardio:/"); r.OK() {
		t.Errorf("Bob still lists the vault after his grant ended: %s", r)
	} else {
		t.Logf("  stderr: %s", strings.TrimSpace(r.Stderr))
	}
	if r := bob.Run("get", "cardio:/note.txt", filepath.Join(t.TempDir(), "x")); r.OK() {
		t.Errorf("Bob still reads after his grant ended: %s", r)
	}

	// Alice's list shows the rotation due; her next opening does it.
	if !v.NeedsRotation || v.KeyIndex != 1 {
		t.Errorf("after the end of Bob's grant, Alice sees %+v, want a rotation pending on key 1", v)
	}
	if got := names(alice.Ls("cardio:/")); !slices.Equal(got, []string{"note.txt", "note2.txt"}) {
		t.Errorf("ls after the rotation: %v (Bob's put must not be there)", got)
	}
	v = alice.Vault("cardio")
	if v.NeedsRotation || v.KeyIndex != 2 || len(v.Members) != 1 || v.Members[0].Email != "alice@"+d {
		t.Errorf("after Alice opened the vault: %+v, want key 2, no rotation pending, Alice alone", v)
	}
	alice.MustRun("put", note, "cardio:/note.txt")
	if got := alice.History("cardio:/note.txt"); len(got) != 2 {
		t.Errorf("history after the rotation: %+v", got)
	}
}

// TestRevocationRotates: a member revoked from the organisation leaves
// every vault; nobody writes with the key they hold until an owner or a
// manager opens the vault and rotates it.
func TestRevocationRotates(t *testing.T) {
	longScenario(t)
	t.Parallel()
	const d = "marronniers.example"
	o := startVaultOrg(t, d, "bob", "carol")
	alice, bob, carol := o.alice, o.bob, o.carol
	alice.MustRun("vault", "create", "cardio")
	alice.MustRun("vault", "share", "cardio", "bob@"+d, "--role", "reader")
	alice.MustRun("vault", "share", "cardio", "carol@"+d, "--role", "contributor")
	old := filepath.Join(t.TempDir(), "old.txt")
	os.WriteFile(old, []byte("written with key 1\n"), 0o600)
	carol.MustRun("put", old, "cardio:/old.txt")
	if got := bob.GetBytes("cardio:/old.txt"); string(got) != "written with key 1\n" {
		t.Errorf("Bob reads %q", got)
	}

	alice.MustRun("user", "revoke", "bob@"+d)
	v := alice.Vault("cardio")
	if !v.NeedsRotation || v.KeyIndex != 1 {
		t.Errorf("after Bob's revocation: %+v, want a rotation pending on key 1", v)
	}
	if _, ok := v.Roles()["bob@"+d]; ok {
		t.Errorf("a revoked user is still listed as a member: %+v", v)
	}
	// A contributor can't write with the old key, nor rotate.
	newer := filepath.Join(t.TempDir(), "new.txt")
	os.WriteFile(newer, []byte("written with key 2\n"), 0o600)
	carol.MustFail("must be rotated first", "put", newer, "cardio:/new.txt")
	carol.MustFail("only an owner or a manager", "vault", "rotate", "cardio")
	// Bob's devices are refused.
	if r := bob.Run("ls", "cardio:/"); r.OK() {
		t.Errorf("a revoked user still lists the vault: %s", r)
	}

	// Alice opens the vault: the key is rotated to Alice and Carol.
	if got := names(alice.Ls("cardio:/")); !slices.Equal(got, []string{"old.txt"}) {
		t.Errorf("ls: %v", got)
	}
	v = alice.Vault("cardio")
	if v.NeedsRotation || v.KeyIndex != 2 || !maps.Equal(v.Roles(), map[string]string{"alice@" + d: "owner", "carol@" + d: "contributor"}) {
		t.Errorf("after Alice opened the vault: %+v, want key 2 for Alice and Carol", v)
	}
	carol.MustRun("put", newer, "cardio:/new.txt")
	if got := alice.GetBytes("cardio:/new.txt"); string(got) != "written with key 2\n" {
		t.Errorf("Alice reads %q", got)
	}
	if got := carol.GetBytes("cardio:/old.txt"); string(got) != "written with key 1\n" {
		t.Errorf("Carol reads %q after the rotation", got)
	}
	// An explicit rotation adds one key.
	if out := alice.MustRun("vault", "rotate", "cardio"); !strings.Contains(out, "key 3") {
		t.Errorf("vault rotate said:\n%s", out)
	}
	if got := carol.GetBytes("cardio:/new.txt"); string(got) != "written with key 2\n" {
		t.Errorf("Carol reads %q after the second rotation", got)
	}
}

// TestConcurrentWrites: two members write the same file at once. One
// wins; the other is told, nothing of theirs is written, their file is
// untouched; every successful write is a version in the history.
func TestConcurrentWrites(t *testing.T) {
	longScenario(t)
	t.Parallel()
	const d = "platanes.example"
	o := startVaultOrg(t, d, "carol")
	alice, carol := o.alice, o.carol
	alice.MustRun("vault", "create", "cardio")
	alice.MustRun("vault", "share", "cardio", "carol@"+d, "--role", "contributor")
	const conflict = "someone else changed it first"

	type put struct {
		who  *Device
		file string
		data []byte
		mod  time.Time
		res  Result
	}
	var wantVersions []FileVersion // size and author of each successful put, in no order
	conflicts := 0
	// Both start at the same moment; a few MiB so that the uploads
	// overlap. Whoever commits second must fail, unless it started after
	// the first committed.
	for round := range 4 {
		puts := []*put{{who: alice}, {who: carol}}
		for i, p := range puts {
			p.data = randomBytes(4<<20 + round*10 + i) // the size tells the puts apart
			p.file = filepath.Join(t.TempDir(), p.who.Name+".bin")
			if err := os.WriteFile(p.file, p.data, 0o600); err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(p.file)
			p.mod = st.ModTime()
		}
		var procs []*Process
		for _, p := range puts {
			procs = append(procs, p.who.Start(commandTimeout, strings.NewReader(""), "put", p.file, "cardio:/same.bin"))
		}
		for i, p := range puts {
			p.res = procs[i].Wait()
			if p.res.OK() {
				wantVersions = append(wantVersions, FileVersion{Size: uint64(len(p.data)), Author: p.who.Name + "@" + d})
			} else {
				conflicts++
				wantOneLineError(t, p.res, conflict)
			}
			// Whatever happened, the local file is as it was.
			if st, err := os.Stat(p.file); err != nil || !st.ModTime().Equal(p.mod) || !bytes.Equal(readFile(t, p.file), p.data) {
				t.Errorf("round %d: %s's local file changed", round, p.who.Name)
			}
		}
		if !puts[0].res.OK() && !puts[1].res.OK() {
			t.Errorf("round %d: both puts failed", round)
		}
		t.Logf("round %d: alice exit %d, carol exit %d", round, puts[0].res.Code, puts[1].res.Code)
	}
	t.Logf("%d conflicts in 8 simultaneous puts", conflicts)

	// And one conflict for sure, on an existing file and on a new one:
	// Alice's put reads the file's state, then waits for its content while
	// Carol writes the file.
	for _, target := range []string{"cardio:/same.bin", "cardio:/new.bin"} {
		slow := alice.Start(commandTimeout, nil, "put", "-", target)
		writeStdin(t, slow, randomBytes(1<<20+256<<10)) // Alice is uploading
		data := randomBytes(1<<20 + 77)
		file := filepath.Join(t.TempDir(), "carol.bin")
		os.WriteFile(file, data, 0o600)
		carol.MustRun("put", file, target)
		if target == "cardio:/same.bin" {
			wantVersions = append(wantVersions, FileVersion{Size: uint64(len(data)), Author: "carol@" + d})
		}
		writeStdin(t, slow, randomBytes(1<<20))
		wantOneLineError(t, slow.Wait(), conflict)
		if got := alice.GetBytes(target); !bytes.Equal(got, data) {
			t.Errorf("%s is not Carol's (%d bytes)", target, len(got))
		}
	}
	if got := alice.History("cardio:/new.bin"); len(got) != 1 || got[0].Author != "carol@"+d {
		t.Errorf("history of new.bin: %+v, want Carol's put only", got)
	}

	// Every successful put is a version, and nothing else.
	hist := alice.History("cardio:/same.bin")
	key := func(v FileVersion) string { return fmt.Sprintf("%d by %s", v.Size, v.Author) }
	var got, want []string
	for i, v := range hist {
		if v.Version != uint64(i+1) {
			t.Errorf("version %d numbered %d", i+1, v.Version)
		}
		got = append(got, key(v))
	}
	for _, v := range wantVersions {
		want = append(want, key(v))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("history of same.bin:\n%s\nwant the successful puts:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
