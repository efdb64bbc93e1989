package control_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/client/control"
	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/tests/hostile"
)

func TestMain(m *testing.M) {
	hostile.FastKeys()
	os.Exit(hostile.Main(m))
}

// device bootstraps a device on a real server and returns its data
// directory and its unlocked keys.
func device(t *testing.T) (string, *client.Unlocked) {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	hostile.Bootstrap(t, hostile.Start(t), home).Close()
	u, err := client.Unlock(home, hostile.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(control.Dir(home), 0o700); err != nil {
		t.Fatal(err)
	}
	return home, u
}

// serve runs s until the test ends, and returns what Serve returned then.
func serve(t *testing.T, s *control.Server) (stop func() error) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after its context ended")
			return nil
		}
	}
}

// TestLockAndUnlock: lock makes a running sync forget its keys; unlock with
// a wrong passphrase is refused before any sync hears it; the right one
// gives the keys back. The socket is private to the account and goes away
// with the service.
func TestLockAndUnlock(t *testing.T) {
	home, u := device(t)
	changed := make(chan struct{}, 4)
	stop := serve(t, &control.Server{Keys: u, Changed: func() { changed <- struct{}{} }})

	socks, _ := filepath.Glob(filepath.Join(control.Dir(home), "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("sockets %v, want one", socks)
	}
	if st, err := os.Stat(socks[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v, mode %v, want 0600", socks[0], err, st.Mode().Perm())
	}

	if n, err := control.Lock(home); n != 1 || err != nil {
		t.Fatalf("Lock: %d, %v; want 1 sync locked", n, err)
	}
	if !u.Locked() {
		t.Fatal("the keys are still there after lock")
	}
	select {
	case <-changed:
	default:
		t.Error("lock did not tell the sync its state changed")
	}
	if _, err := u.Session(); !errors.Is(err, client.ErrLocked) {
		t.Errorf("a session while locked: %v, want ErrLocked", err)
	}

	if n, err := control.Unlock(home, []byte("not the passphrase")); n != 0 || !errors.Is(err, crypto.ErrWrongPassphrase) {
		t.Fatalf("Unlock with a wrong passphrase: %d, %v", n, err)
	}
	if !u.Locked() {
		t.Fatal("a wrong passphrase unlocked the sync")
	}
	if n, err := control.Unlock(home, hostile.Passphrase); n != 1 || err != nil {
		t.Fatalf("Unlock: %d, %v; want 1 sync unlocked", n, err)
	}
	if u.Locked() {
		t.Fatal("still locked after unlock")
	}

	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if socks, _ := filepath.Glob(filepath.Join(control.Dir(home), "*.sock")); len(socks) != 0 {
		t.Errorf("sockets left after the service stopped: %v", socks)
	}
	if n, err := control.Lock(home); n != 0 || err != nil {
		t.Errorf("Lock with no sync running: %d, %v", n, err)
	}
}

// TestDeadSocketsAreCleared: a socket left by a sync that died is removed,
// not counted.
func TestDeadSocketsAreCleared(t *testing.T) {
	home, u := device(t)
	dead := filepath.Join(control.Dir(home), "1.sock")
	if err := os.WriteFile(dead, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stop := serve(t, &control.Server{Keys: u})
	defer stop()
	if n, err := control.Lock(home); n != 1 || err != nil {
		t.Fatalf("Lock: %d, %v; want the one live sync", n, err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead socket still there: %v", err)
	}
}

// TestUnknownRequest: the socket answers anything but lock and unlock
// with an error, and changes nothing.
func TestUnknownRequest(t *testing.T) {
	home, u := device(t)
	stop := serve(t, &control.Server{Keys: u})
	defer stop()
	socks, _ := filepath.Glob(filepath.Join(control.Dir(home), "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("sockets %v", socks)
	}
	c, err := net.Dial("unix", socks[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "forget everything")
	answer, _ := bufio.NewReader(c).ReadString('\n')
	if answer != "error unknown request\n" {
		t.Errorf("answer %q", answer)
	}
	if u.Locked() {
		t.Error("an unknown request locked the keys")
	}
}

// TestIdleLock: without activity the keys are forgotten after LockAfter;
// activity keeps them. The test's goroutine can be held back on a loaded
// machine (CI at a load of 27 once slept past LockAfter between two
// sends): a run where it was, so that the keys could rightly lock, proves
// nothing, and the test runs again with a longer delay.
func TestIdleLock(t *testing.T) {
	for after := 300 * time.Millisecond; ; after *= 2 {
		if idleLock(t, after) {
			return
		}
		if after >= 5*time.Second {
			t.Fatalf("the test could not send activity within %v, even after retries: the machine is stalled", after)
		}
		t.Logf("activity was held back longer than LockAfter (%v) by the machine's load: again with twice the delay", after)
	}
}

// idleLock runs TestIdleLock with LockAfter = after; false if the test
// itself was late, so that whether the keys locked says nothing.
func idleLock(t *testing.T, after time.Duration) bool {
	_, u := device(t)
	activity := make(chan struct{})
	changed := make(chan struct{}, 1)
	started := time.Now() // before the server's timer starts
	stop := serve(t, &control.Server{Keys: u, LockAfter: after, Activity: activity, Changed: func() { changed <- struct{}{} }})
	defer stop()
	// The longest time the server went without activity is at most, for
	// each send, from the start of the previous send (the earliest it can
	// have been received) to the end of this one.
	longest := time.Duration(0)
	for range 6 { // twice LockAfter, with activity every half of it
		time.Sleep(after / 2)
		sending := time.Now()
		activity <- struct{}{}
		longest = max(longest, time.Since(started))
		started = sending
	}
	locked := u.Locked()
	if longest = max(longest, time.Since(started)); longest >= after {
		return false
	}
	if locked {
		t.Fatalf("locked although the person was active (at most %v without activity, LockAfter %v)", longest, after)
	}
	select {
	case <-changed:
	case <-time.After(5 * after):
		t.Fatal("not locked after LockAfter without activity")
	}
	if !u.Locked() {
		t.Fatal("Changed was called but the keys are still there")
	}
	return true
}
