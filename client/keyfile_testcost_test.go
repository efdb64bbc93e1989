package client

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestWorkFactor(t *testing.T) {
	for _, c := range []struct {
		isTest bool
		value  string
		want   int
		ok     bool
		err    bool
	}{
		{false, "10", 0, false, false}, // not a test binary: ignored
		{true, "", 0, false, false},
		{true, "10", 10, true, false},
		{true, "18", 18, true, false},
		{true, "19", 0, false, true}, // never raises it
		{true, "0", 0, false, true},
		{true, "ten", 0, false, true},
	} {
		n, ok, err := testWorkFactor(c.isTest, c.value)
		if n != c.want || ok != c.ok || (err != nil) != c.err {
			t.Errorf("testWorkFactor(%v, %q) = %d, %v, %v; want %d, %v, error %v", c.isTest, c.value, n, ok, err, c.want, c.ok, c.err)
		}
	}
}

// TestBuiltBinaryIgnoresTestWorkFactor builds a program with 'go build',
// as coffre is built, and runs it with the variable set: key files keep
// the full cost. Built with the coffre_testcost tag (as tests/harness
// builds the binaries the suites run), it honours the variable.
func TestBuiltBinaryIgnoresTestWorkFactor(t *testing.T) {
	for _, c := range []struct {
		tags []string
		want string
	}{
		{nil, "18"},
		{[]string{"-tags", "coffre_testcost"}, "4"},
	} {
		bin := filepath.Join(t.TempDir(), "workfactor")
		args := append(append([]string{"build"}, c.tags...), "-o", bin, "./testdata/workfactor")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), TestWorkFactorEnv+"=4")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("a binary built with %v and %s=4 writes key files at work factor %s, want %s", c.tags, TestWorkFactorEnv, got, c.want)
		}
	}
}
