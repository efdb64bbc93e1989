package e2e

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	recoveryLinkLine = regexp.MustCompile(`(?m)^coffre://\S+kind=recovery\S*$`)
	codeShown        = regexp.MustCompile(`Your code: (\S+)`)
)

// waitOutput polls a running command's standard output until find returns
// something, or fails the test once the enrolment timeout has passed.
func waitOutput(t *testing.T, p *Process, what string, find func(stdout string) string) string {
	t.Helper()
	deadline := time.Now().Add(enrolmentTimeout)
	for time.Now().Before(deadline) {
		if s := find(p.Stdout()); s != "" {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s in time:\nstdout:\n%s\nstderr:\n%s", what, p.Stdout(), p.Stderr())
	return ""
}

// nthCode is the n-th code (from 1) a command has shown so far, or "".
func nthCode(n int) func(string) string {
	return func(out string) string {
		m := codeShown.FindAllStringSubmatch(out, -1)
		if len(m) < n {
			return ""
		}
		return m[n-1][1]
	}
}

// TestSharedRecovery: Bob shares his recovery among Alice and Carol with
// a threshold of 2 and loses his only device; each of them offers help,
// and Bob, on a new device, claims their links one at a time, comparing
// codes with each: his new device reads his vault (SPEC.md §15.6).
func TestSharedRecovery(t *testing.T) {
	longScenario(t)
	t.Parallel()
	const d = "tilleuls.example"
	o := startVaultOrg(t, d, "bob", "carol")
	alice, bob, carol := o.alice, o.bob, o.carol
	alice.MustRun("vault", "create", "cardio")
	alice.MustRun("vault", "share", "cardio", "bob@"+d, "--role", "reader")
	src := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(src, []byte("patient note\n"), 0o600)
	alice.MustRun("put", src, "cardio:/note.txt")

	bob.MustFail("--threshold must be between 1 and 2", "device", "recovery", "share", "--members", "alice@"+d+",carol@"+d, "--threshold", "3")
	out := bob.MustRun("device", "recovery", "share", "--members", "alice@"+d+",carol@"+d, "--threshold", "2")
	if !strings.Contains(out, "any 2 of 2 members") {
		t.Fatalf("share said %q", out)
	}
	if err := os.RemoveAll(bob.Home); err != nil { // Bob loses his only device
		t.Fatal(err)
	}

	members := []*Process{
		alice.Start(enrolmentTimeout, nil, "device", "recovery", "assist", "bob@"+d, "--yes"),
		carol.Start(enrolmentTimeout, nil, "device", "recovery", "assist", "bob@"+d, "--yes"),
	}
	var links []string
	for _, m := range members {
		links = append(links, waitOutput(t, m, "recovery link", recoveryLinkLine.FindString))
	}
	// One link at a time: the first share is kept in the new home, the
	// second completes the recovery.
	fresh := NewDevice(t, "bob-new")
	var r Result
	for i, m := range members {
		claim := fresh.Start(enrolmentTimeout, nil, "device", "recovery", "claim", "--device-label", "bob-new", links[i])
		memberCode := waitOutput(t, m, "member's code", nthCode(1))
		personCode := waitOutput(t, claim, "person's code", nthCode(1))
		if memberCode == personCode {
			t.Errorf("both sides show %s", memberCode)
		}
		io.WriteString(m.Stdin, personCode+"\n")
		io.WriteString(claim.Stdin, memberCode+"\n")
		if r := m.Wait(); !r.OK() || !strings.Contains(r.Stdout, "your share of bob@"+d+"'s recovery was sent") {
			t.Errorf("member: %s", r)
		}
		r = claim.Wait()
		if i == 0 && (!r.OK() || !strings.Contains(r.Stdout, "1 of the 2 shares needed, kept in")) {
			t.Fatalf("first claim: %s", r)
		}
	}
	if !r.OK() || !strings.Contains(r.Stdout, "recovered: enrolled device") {
		t.Fatalf("second claim: %s", r)
	}
	if got := fresh.GetBytes("cardio:/note.txt"); string(got) != "patient note\n" {
		t.Errorf("the recovered device reads %q", got)
	}
}
