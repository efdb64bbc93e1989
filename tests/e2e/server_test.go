package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coffre/coffre/tests/testbackend"
)

// TestServerBackupWhileRunning is the operator's side: list organisations,
// back up a running server, restore the backup the documented way (stop,
// put the file back as DATA/coffre.db, start), and back up a stopped one.
func TestServerBackupWhileRunning(t *testing.T) {
	t.Parallel()
	testbackend.RequireEmbedded(t, "it puts a copy of DATA/coffre.db back; restore_test.go covers PostgreSQL")
	srv := StartServer(t)
	lacID, lacLink := srv.CreateOrg("Clinique du Lac")
	pinsID, _ := srv.CreateOrg("Clinique des Pins")
	alice := NewDevice(t, "alice")
	alice.Bootstrap(lacLink, "Alice", "alice@lac.example")

	list := srv.MustRun("org", "list", "--data", srv.Data)
	wantOrg(t, list, lacID, "Clinique du Lac", "bootstrapped")
	wantOrg(t, list, pinsID, "Clinique des Pins", "waiting for bootstrap")

	backup := filepath.Join(t.TempDir(), "coffre-backup.db")
	if out := srv.MustRun("backup", "--data", srv.Data, "--out", backup); !strings.Contains(out, "backup written to "+backup) {
		t.Errorf("backup did not say where it wrote:\n%s", out)
	}
	if !srv.Running() {
		t.Fatalf("the server stopped during the backup")
	}
	contents := boltContents(t, backup)
	for _, key := range []string{"orgs/" + lacID, "orgs/" + pinsID, "org/" + lacID + "/log/"} {
		if _, ok := contents[key]; !ok {
			t.Errorf("the backup lacks %s", key)
		}
	}
	if n := countUnder(contents, "org/"+lacID+"/log/"); n != 2 {
		t.Errorf("the backup holds %d log entries of the bootstrapped organisation, want 2 (Alice and her device)", n)
	}

	// The server goes on after the backup; what it does next is not in it.
	laterID, _ := srv.CreateOrg("Clinique des Sables")

	// Restore: the later organisation is gone, Alice's organisation works.
	srv.Stop()
	if out := srv.MustRun("backup", "--data", srv.Data, "--out", filepath.Join(t.TempDir(), "offline.db")); !strings.Contains(out, "backup written to ") {
		t.Errorf("a backup of a stopped server did not say it was written:\n%s", out)
	}
	copyFile(t, backup, filepath.Join(srv.Data, "coffre.db"))
	srv.Start()
	list = srv.MustRun("org", "list", "--data", srv.Data)
	wantOrg(t, list, lacID, "Clinique du Lac", "bootstrapped")
	if strings.Contains(list, laterID) {
		t.Errorf("the restored server knows an organisation created after the backup:\n%s", list)
	}
	if out := alice.MustRun("status"); !strings.Contains(out, "(reachable)") || !strings.Contains(out, "log head      position 2, ") {
		t.Errorf("Alice's status against the restored server:\n%s", out)
	}
}

func wantOrg(t *testing.T, list, id, name, state string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + id + `\s+` + regexp.QuoteMeta(name) + `\s+` + regexp.QuoteMeta(state) + `\s+created \d{4}-`)
	if !re.MatchString(list) {
		t.Errorf("'org list' lacks %s %q %s:\n%s", id, name, state, list)
	}
}

func countUnder(contents map[string]string, prefix string) int {
	n := 0
	for k := range contents {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			n++
		}
	}
	return n
}
