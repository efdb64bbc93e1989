package client

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// The tests below run a second process on the same state.db: this test
// binary again, running only TestStateFileOtherProcess, which does what
// COFFRE_STATEFILE_CHILD says (SPEC.md §9 "Sharing").

const childEnv = "COFFRE_STATEFILE_CHILD"

var testBucket = []byte("test")

func putCounter(f *stateFile, name string, n uint64) error {
	return f.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(testBucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), binary.BigEndian.AppendUint64(nil, n))
	})
}

func counter(t *testing.T, f *stateFile, name string) (uint64, bool) {
	t.Helper()
	var n uint64
	var ok bool
	err := f.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(testBucket); b != nil {
			if v := b.Get([]byte(name)); v != nil {
				n, ok = binary.BigEndian.Uint64(v), true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, ok
}

// TestStateFileOtherProcess is the second process: "write PATH" stores
// one value and exits; "commit PATH N" stores N values one transaction
// at a time, says "committed" and waits, state.db still open, to be
// killed.
func TestStateFileOtherProcess(t *testing.T) {
	args := strings.Fields(os.Getenv(childEnv))
	if len(args) == 0 {
		t.Skip("run by the tests below as another process")
	}
	f := shareStateFile(args[1])
	switch args[0] {
	case "write":
		if err := putCounter(f, "child", 1); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if err := f.close(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
	case "commit":
		n, _ := strconv.Atoi(args[2])
		for i := 1; i <= n; i++ {
			if err := putCounter(f, fmt.Sprint("k", i), uint64(i)); err != nil {
				fmt.Println("error:", err)
				os.Exit(1)
			}
		}
		fmt.Println("committed")
		select {}
	}
}

func otherProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStateFileOtherProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, " "))
	return cmd
}

// A process that keeps state.db open between its transactions lets
// another in once it stops using it, though it never closes it itself.
func TestStateFileIdleLetsAnotherProcessIn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f := shareStateFile(path)
	t.Cleanup(func() { f.close() })
	if err := putCounter(f, "parent", 1); err != nil {
		t.Fatal(err)
	}
	if out, err := otherProcess(t, "write", path).CombinedOutput(); err != nil {
		t.Fatalf("the other process did not get state.db while this one held it idle: %v\n%s", err, out)
	}
	if _, ok := counter(t, f, "child"); !ok {
		t.Fatal("the other process's write is not in state.db")
	}
}

// A process busy with state.db without a pause lets in another that
// waits for it, and goes on once it is done: neither fails.
func TestStateFileBusyLetsAWaitingProcessIn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	f := shareStateFile(path)
	t.Cleanup(func() { f.close() })
	if err := putCounter(f, "parent", 0); err != nil {
		t.Fatal(err)
	}
	cmd := otherProcess(t, "write", path)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var n uint64
	for busy := true; busy; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the other process did not get state.db while this one used it: %v\n%s", err, out.String())
			}
			busy = false
		default:
			n++
			if err := putCounter(f, "parent", n); err != nil {
				t.Fatalf("after %d transactions: %v", n, err)
			}
		}
	}
	if err := putCounter(f, "parent", n+1); err != nil {
		t.Fatal(err)
	}
	if _, ok := counter(t, f, "child"); !ok {
		t.Fatal("the other process's write is not in state.db")
	}
	if got, _ := counter(t, f, "parent"); got != n+1 {
		t.Fatalf("parent counter %d, want %d", got, n+1)
	}
}

// A process killed with state.db open loses none of its committed
// transactions, and the next opener is not locked out.
func TestStateFileCommitsSurviveAKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	const n = 20
	cmd := otherProcess(t, "commit", path, strconv.Itoa(n))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "committed" {
		cmd.Process.Kill()
		t.Fatalf("the other process said %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	f := shareStateFile(path)
	t.Cleanup(func() { f.close() })
	for i := 1; i <= n; i++ {
		if got, ok := counter(t, f, fmt.Sprint("k", i)); !ok || got != uint64(i) {
			t.Fatalf("committed value %d lost with the process (%d, %v)", i, got, ok)
		}
	}
	if err := putCounter(f, "after", 7); err != nil {
		t.Fatal(err)
	}
}
