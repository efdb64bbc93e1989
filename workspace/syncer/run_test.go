package syncer_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
	"github.com/coffre/coffre/workspace/syncer"
)

// A change on the server is synced at once, even while the runner waits
// for a burst of local changes to end (its own writes of the previous
// download are such a burst): the debounce is for local changes only.
// The debounce and the scan here are an hour, so without that rule the
// remote file would not arrive before the test gives up.
func TestRemoteChangeDoesNotWaitForTheLocalDebounce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := hostile.Bootstrap(t, hostile.Start(t), filepath.Join(t.TempDir(), "home"))
	if _, err := s.CreateVault(ctx, "cardio"); err != nil {
		t.Fatal(err)
	}
	v, err := s.OpenVault(ctx, "cardio")
	if err != nil {
		t.Fatal(err)
	}
	j, err := syncer.OpenJournal(filepath.Join(t.TempDir(), "journal.db"), syncer.FixedKey(crypto.NewSecretKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	dir := t.TempDir()
	remote := make(chan struct{}, 1)
	cycles := make(chan syncer.Status, 16)
	r := &syncer.Runner{
		Engine:   &syncer.Engine{Dir: dir, Journal: j, Device: "laptop", Open: func(context.Context) (*workspace.Vault, func(), error) { return v, func() {}, nil }},
		Remote:   remote,
		Scan:     time.Hour,
		Debounce: time.Hour,
		Report: func(st syncer.Status, _ syncer.Result) {
			if st.State != "syncing" {
				select {
				case cycles <- st:
				default:
				}
			}
		},
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	// A local change starts the (hour-long) debounce, then the server
	// says the vault changed.
	if err := os.WriteFile(filepath.Join(dir, "local.txt"), []byte("local"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, "/remote.txt", strings.NewReader("from the server"), nil); err != nil {
		t.Fatal(err)
	}
	remote <- struct{}{}

	select {
	case st := <-cycles:
		if st.State != "idle" {
			t.Fatalf("cycle after the remote event: %s (%s)", st.State, st.LastError)
		}
	case err := <-done:
		t.Fatalf("runner stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no cycle a minute after the remote event: it waited for the local debounce")
	}
	b, err := os.ReadFile(filepath.Join(dir, "remote.txt"))
	if err != nil || string(b) != "from the server" {
		t.Fatalf("remote.txt after the cycle: %q, %v", b, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
