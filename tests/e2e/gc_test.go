package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffre/coffre/crypto"
)

// TestServerBlockCollection is the operator's side of block garbage
// collection (SPEC.md §7.5): `coffre-server gc` runs one in the running
// server and says what it deleted; a file just put is referenced and
// recent, so nothing goes; without a running server the command says what
// to do and does nothing.
func TestServerBlockCollection(t *testing.T) {
	t.Parallel()
	longScenario(t)
	srv := StartServer(t)
	_, link := srv.CreateOrg("Clinique du Lac")
	alice := NewDevice(t, "alice")
	alice.Bootstrap(link, "Alice", "alice@lac.example")
	alice.MustRun("vault", "create", "cardiology")
	file := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(file, crypto.RandomBytes(3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	alice.MustRun("put", file, "cardiology:/")

	out := srv.MustRun("gc", "--data", srv.Data, "--dry-run")
	if !strings.Contains(out, "would delete 0 blocks (0 B) unreferenced, in 1 vault holding blocks") {
		t.Errorf("gc --dry-run:\n%s", out)
	}
	var col struct {
		DryRun           bool `json:"dry_run"`
		Vaults           int  `json:"vaults"`
		VaultsUndeclared int  `json:"vaults_undeclared"`
		Deleted          int  `json:"deleted"`
		Recent           int  `json:"recent"`
	}
	if err := json.Unmarshal([]byte(srv.MustRun("gc", "--data", srv.Data, "--json")), &col); err != nil {
		t.Fatal(err)
	}
	if col.DryRun || col.Vaults != 1 || col.VaultsUndeclared != 0 || col.Deleted != 0 || col.Recent < 1 {
		t.Errorf("gc --json: %+v; want a real run over 1 declared vault, nothing deleted, its blocks recent", col)
	}
	alice.MustRun("get", "cardiology:/report.pdf", filepath.Join(t.TempDir(), "back.pdf"))

	srv.Stop()
	r := srv.Run("gc", "--data", srv.Data)
	if r.OK() || !strings.Contains(r.Stderr, "block collection runs in the running server") || !strings.Contains(r.Stderr, "coffre-server run --data") {
		t.Errorf("gc without a running server: %s", r)
	}
}
