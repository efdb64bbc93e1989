package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/harness"
)

// TestDeviceRevokeAndWipe: Bob lists his devices, revokes his laptop from
// his desktop; the vault he manages gets a new key at once; the laptop is
// refused, and when it comes back it erases its copies after checking the
// revocation in its own verified log, keeping aside what it changed
// (SPEC.md §15, SECURITY.md A40–A42).
func TestDeviceRevokeAndWipe(t *testing.T) {
	longScenario(t)
	const d = "tilleuls.example"
	o := startVaultOrg(t, d, "bob")
	alice, bob := o.alice, o.bob
	laptop := NewDevice(t, "bob-laptop")
	EnrolDevice(t, bob, laptop, "bob-laptop")

	alice.MustRun("vault", "create", "cardio")
	alice.MustRun("vault", "share", "cardio", "bob@"+d, "--role", "manager")
	src := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(src, []byte("patient note\n"), 0o600)
	alice.MustRun("put", src, "cardio:/note.txt")
	alice.MustRun("put", src, "cardio:/other.txt")
	folder := filepath.Join(t.TempDir(), "cardio")
	laptop.MustRun("sync", "--once", "cardio", folder)
	if b, err := os.ReadFile(filepath.Join(folder, "note.txt")); err != nil || string(b) != "patient note\n" {
		t.Fatalf("the laptop's synced folder holds %q, %v", b, err)
	}

	laptop.MustRun("ls", "cardio:/") // a command records its connection
	var list []struct {
		ID, Label      string
		This           bool    `json:"this_device"`
		EnrolledBy     string  `json:"enrolled_by"`
		LastConnection *string `json:"last_connection"`
		Revoked        *string
	}
	harness.DecodeJSON(t, bob.MustRun("device", "list", "--json"), &list)
	if len(list) != 2 || !list[0].This || list[1].This || list[1].Label != "bob-laptop" || list[1].EnrolledBy != "bob@"+d || list[1].LastConnection == nil {
		t.Fatalf("device list: %+v, want this desktop then the laptop enrolled by Bob, with a last connection", list)
	}
	laptopID := list[1].ID
	if out := bob.MustRun("device", "list"); !strings.Contains(out, "*") || !strings.Contains(out, "bob-laptop") {
		t.Errorf("device list:\n%s", out)
	}
	bob.MustFail("can't revoke itself", "device", "revoke", list[0].ID)

	keyBefore := bob.Vault("cardio").KeyIndex
	out := bob.MustRun("device", "revoke", "bob-laptop")
	if !strings.Contains(out, "revoked device "+laptopID) || !strings.Contains(out, "rotated your user keys") || !strings.Contains(out, "rotated the key of vault cardio") {
		t.Errorf("revoke said:\n%s", out)
	}
	if v := bob.Vault("cardio"); v.KeyIndex != keyBefore+1 || v.NeedsRotation {
		t.Errorf("after the revocation the vault is %+v, want key %d and no rotation pending", v, keyBefore+1)
	}
	// Bob's desktop lists it as revoked, and still works.
	harness.DecodeJSON(t, bob.MustRun("device", "list", "--json"), &list)
	if list[1].Revoked == nil {
		t.Errorf("after revoke, device list: %+v", list)
	}
	bob.MustRun("ls", "cardio:/")

	// The laptop changes one file while away, then connects.
	os.WriteFile(filepath.Join(folder, "other.txt"), []byte("changed offline\n"), 0o600)
	r := laptop.MustFail("this device has been revoked", "ls", "cardio:/")
	if !strings.Contains(r.Stdout, "erased its copies") || !strings.Contains(r.Stdout, "1 synced file erased") {
		t.Errorf("the wipe report:\n%s", r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(folder, "note.txt")); !os.IsNotExist(err) {
		t.Errorf("the unchanged synced file is still there: %v", err)
	}
	kept, _ := filepath.Glob(folder + ".kept-*/other.txt")
	if len(kept) != 1 {
		t.Fatalf("the changed file was not kept aside: %v\n%s", kept, r.Stderr)
	}
	if b, _ := os.ReadFile(kept[0]); string(b) != "changed offline\n" {
		t.Errorf("kept file holds %q", b)
	}
	for _, f := range []string{"device.age", "cache", "sync"} {
		if _, err := os.Stat(filepath.Join(laptop.Home, f)); !os.IsNotExist(err) {
			t.Errorf("%s survived the wipe: %v", f, err)
		}
	}
}

// TestSyncDaemonWipesOnRevocation: a running 'coffre sync' on Bob's laptop
// is refused once Bob revokes the laptop from his desktop: it stops,
// checks the revocation in its own verified log, erases as the commands
// do (the unchanged synced file deleted, the one changed here kept
// aside, the key file gone) and exits with "this device has been
// revoked" (SPEC.md §15.3).
func TestSyncDaemonWipesOnRevocation(t *testing.T) {
	longScenario(t)
	const d = "platanes.example"
	o := startVaultOrg(t, d, "bob")
	bob := o.bob
	laptop := NewDevice(t, "bob-laptop")
	EnrolDevice(t, bob, laptop, "bob-laptop")
	bob.MustRun("vault", "create", "cardio")
	src := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(src, []byte("patient note\n"), 0o600)
	bob.MustRun("put", src, "cardio:/note.txt")
	bob.MustRun("put", src, "cardio:/other.txt")

	folder := filepath.Join(t.TempDir(), "cardio")
	// --settle 1h: the file changed below stays pending, "changed since
	// the last sync".
	p := laptop.Start(3*time.Minute, strings.NewReader(""), "sync", "cardio", folder, "--settle", "1h", "--debounce", "100ms", "--scan-interval", "1s")
	for _, name := range []string{"note.txt", "other.txt"} {
		waitUntil(t, name+" is synced", func() bool { b, _ := os.ReadFile(filepath.Join(folder, name)); return string(b) == "patient note\n" })
	}
	os.WriteFile(filepath.Join(folder, "other.txt"), []byte("changed on the laptop\n"), 0o600)
	bob.MustRun("device", "revoke", "bob-laptop")

	r := p.Wait()
	if r.OK() || !strings.Contains(r.Stderr, "this device has been revoked") {
		t.Fatalf("the sync ended with %d:\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stdout, "erased its copies") || !strings.Contains(r.Stdout, "1 synced file erased") || !strings.Contains(r.Stdout, "cleaned synced folder") {
		t.Errorf("the wipe report:\n%s", r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(folder, "note.txt")); !os.IsNotExist(err) {
		t.Errorf("the unchanged synced file is still there: %v", err)
	}
	kept, _ := filepath.Glob(folder + ".kept-*/other.txt")
	if len(kept) != 1 {
		t.Fatalf("the changed file was not kept aside: %v\n%s", kept, r.Stdout)
	}
	if b, _ := os.ReadFile(kept[0]); string(b) != "changed on the laptop\n" {
		t.Errorf("kept file holds %q", b)
	}
	for _, f := range []string{"device.age", "state.db", "cache", "sync"} {
		if _, err := os.Stat(filepath.Join(laptop.Home, f)); !os.IsNotExist(err) {
			t.Errorf("%s survived the wipe: %v", f, err)
		}
	}
}

// waitUntil waits for cond, looking every 100 ms, for at most a few
// minutes on a loaded machine.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeviceRecoveryFile: Bob writes a recovery file, loses his only
// device, and enrols a new one from the file and its secret, which reads
// his vault; a wrong or mistyped secret fails clearly, and the file alone
// shows nothing (SPEC.md §15.5).
func TestDeviceRecoveryFile(t *testing.T) {
	longScenario(t)
	const d = "marronniers.example"
	o := startVaultOrg(t, d, "bob")
	alice, bob := o.alice, o.bob
	alice.MustRun("vault", "create", "cardio")
	alice.MustRun("vault", "share", "cardio", "bob@"+d, "--role", "reader")
	src := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(src, []byte("patient note\n"), 0o600)
	alice.MustRun("put", src, "cardio:/note.txt")

	dir := t.TempDir()
	file, other := filepath.Join(dir, "bob.coffre-recovery"), filepath.Join(dir, "other.coffre-recovery")
	lastLine := func(out string) string { l := strings.Split(strings.TrimSpace(out), "\n"); return l[len(l)-1] }
	secret := lastLine(bob.MustRun("device", "recovery", "export", file))
	if len(secret) != 35 || strings.Count(secret, "-") != 5 {
		t.Fatalf("the secret %q is not 30 characters in six groups", secret)
	}
	otherSecret := lastLine(bob.MustRun("device", "recovery", "export", other))
	bob.MustFail("already exists", "device", "recovery", "export", file)
	sealed, _ := os.ReadFile(file)
	bobID := findUser(t, alice.Users(false), "bob@"+d).ID
	for _, clear := range []string{bobID, "bob@" + d, "recovery", alice.Vault("cardio").ID, "signing_key"} {
		if strings.Contains(string(sealed), clear) {
			t.Errorf("the recovery file shows %q in clear", clear)
		}
	}
	if err := os.RemoveAll(bob.Home); err != nil { // Bob loses his only device
		t.Fatal(err)
	}

	fresh := NewDevice(t, "bob-new")
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(otherSecret+"\n"), 0o600)
	fresh.MustFail("does not open this recovery file", "device", "recovery", "import", file, "--secret-file", secretFile)
	typo := []byte(secret)
	typo[0] = 'A'
	if secret[0] == 'A' {
		typo[0] = 'B'
	}
	os.WriteFile(secretFile, append(typo, '\n'), 0o600)
	if r := fresh.Run("device", "recovery", "import", file, "--secret-file", secretFile); r.OK() ||
		!(strings.Contains(r.Stderr, "mistyped") || strings.Contains(r.Stderr, "does not open")) {
		t.Errorf("a mistyped secret: %s", r)
	}
	// Typed in lower case with spaces: still the secret.
	os.WriteFile(secretFile, []byte(strings.ToLower(strings.ReplaceAll(secret, "-", " "))+"\n"), 0o600)
	out := fresh.MustRun("device", "recovery", "import", file, "--secret-file", secretFile, "--device-label", "bob-new")
	if !strings.Contains(out, "enrolled device") {
		t.Errorf("import said %q", out)
	}
	if got := fresh.GetBytes("cardio:/note.txt"); string(got) != "patient note\n" {
		t.Errorf("the recovered device reads %q", got)
	}
	var list []struct {
		ID, Label string
		This      bool `json:"this_device"`
	}
	harness.DecodeJSON(t, fresh.MustRun("device", "list", "--json"), &list)
	if len(list) != 4 || !list[3].This || !strings.HasPrefix(list[1].Label, "recovery ") {
		t.Fatalf("device list after recovery: %+v", list)
	}
	fresh.MustRun("device", "revoke", list[1].ID) // the used recovery device
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	again := NewDevice(t, "bob-again")
	again.MustFail("revoked", "device", "recovery", "import", file, "--secret-file", secretFile)
}
