package synctest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/hostile"
)

// Canaries of the device's own disk: every name or content a workload puts
// there.
const (
	diskVault   = "CANARY-DISK-VAULT-GIRAFFE-1029"
	diskFolder  = "CANARY-DISK-FOLDER-PANGOLIN-3847"
	diskFile    = "CANARY-DISK-FILE-AXOLOTL-5521.txt"
	diskBig     = "CANARY-DISK-BIG-MANATEE-7730.bin"
	diskSyncDir = "CANARY-DISK-SYNCDIR-LEMUR-6612"
	diskLocal   = "CANARY-DISK-LOCAL-BISON-4408.txt"
	diskGetDir  = "CANARY-DISK-GETDIR-HERON-2291"
	diskContent = "CANARY-DISK-CONTENT-KOALA-8163"
)

// TestA37NothingOnTheDeviceDisk: after a workload of the real coffre
// binary — put, a put interrupted with kill -9 and resumed, get of a folder,
// get to standard output, two syncs of a folder, status — nothing of any
// name or content is found, in any encoding, in any byte of any file of the
// device's data directory (state.db read raw, free pages included; the sync
// journal and status file) nor in $TMPDIR, even while `get -` runs; and the
// folders coffre creates are private (SECURITY.md A37, SPEC.md §9, §12).
func TestA37NothingOnTheDeviceDisk(t *testing.T) {
	t.Parallel()
	w := newProcWorld(t, devSpec{"alice", "alice", "alice-laptop"})
	if err := w.admin.RenameVault(bg(), w.vault, diskVault); err != nil {
		t.Fatal(err)
	}
	d := w.procDev(t, "alice")
	d.dir = filepath.Join(w.base, diskSyncDir) // created by the sync
	tmp, src := t.TempDir(), t.TempDir()
	body := func(n int) []byte { // numbered lines: blocks that differ
		var b bytes.Buffer
		for i := range n {
			fmt.Fprintf(&b, "%s of a patient's file, line %d\n", diskContent, i)
		}
		return b.Bytes()
	}
	coffre := func(args ...string) *exec.Cmd {
		cmd := exec.Command(coffreBin(t), append([]string{"--home", d.home}, args...)...)
		cmd.Env = append(cleanEnv(), "COFFRE_PASSPHRASE="+string(hostile.Passphrase), "TMPDIR="+tmp)
		return cmd
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := coffre(args...).CombinedOutput()
		if err != nil {
			t.Fatalf("coffre %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	at := func(p string) string { return w.vault + ":/" + diskFolder + p }

	run("mkdir", at(""))
	if err := os.WriteFile(filepath.Join(src, diskFile), body(50), 0o600); err != nil {
		t.Fatal(err)
	}
	run("put", filepath.Join(src, diskFile), at("/"+diskFile))

	// A put killed in the middle: blocks sent, no commit.
	fifo := filepath.Join(src, diskBig)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	before := w.ps.CountBlocks(t, w.org, w.vault)
	put := coffre("put", fifo, at("/"+diskBig))
	var putOut syncBuffer
	put.Stdout, put.Stderr = &putOut, &putOut
	if err := put.Start(); err != nil {
		t.Fatal(err)
	}
	pipe, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	big := body(300000) // ~15 MB: several blocks
	if _, err := pipe.Write(big[:len(big)/2]); err != nil {
		t.Fatal(err)
	}
	if !waitFor(30*time.Second, 50*time.Millisecond, func() bool { return w.ps.CountBlocks(t, w.org, w.vault) >= before+3 }) {
		t.Fatalf("the interrupted put sent no blocks (%d):\n%s", w.ps.CountBlocks(t, w.org, w.vault), putOut.String())
	}
	time.Sleep(500 * time.Millisecond) // the sent blocks are recorded
	put.Process.Kill()
	put.Wait()
	pipe.Close()
	// Resumed, and committed: the journal of sent blocks is emptied.
	os.Remove(fifo)
	if err := os.WriteFile(fifo, big, 0o600); err != nil {
		t.Fatal(err)
	}
	run("put", fifo, at("/"+diskBig))

	out := filepath.Join(src, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	run("get", at(""), filepath.Join(out, diskGetDir))

	// get to standard output, held while its output is not read: nothing
	// may be staged meanwhile.
	get := coffre("get", at("/"+diskBig), "-")
	stdout, err := get.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := get.Start(); err != nil {
		t.Fatal(err)
	}
	staged := map[string][]byte{}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for p, data := range readFiles(t, tmp) {
			staged["$TMPDIR during get -: "+p] = data
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, err := io.ReadAll(stdout)
	if err != nil || get.Wait() != nil || !bytes.Equal(got, big) {
		t.Fatalf("get -: %d bytes of %d (%v)", len(got), len(big), err)
	}

	// Sync: the folder is created, the vault's files come down, a local
	// file goes up.
	d.mustOnce(t)
	if err := os.WriteFile(filepath.Join(d.dir, diskLocal), body(40), 0o600); err != nil {
		t.Fatal(err)
	}
	d.mustOnce(t)
	if st := run("status"); !strings.Contains(st, diskSyncDir) || !strings.Contains(st, diskVault) {
		t.Errorf("status does not name the synced folder and its vault:\n%s", st)
	}

	for _, dir := range []string{d.dir, filepath.Join(d.dir, diskFolder), filepath.Join(out, diskGetDir)} {
		if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, want 0700 (%v)", dir, info.Mode().Perm(), err)
		}
	}
	for _, f := range []string{filepath.Join(d.dir, diskFolder, diskFile), filepath.Join(out, diskGetDir, diskBig)} {
		if info, err := os.Stat(f); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (%v)", f, info.Mode().Perm(), err)
		}
	}

	haystacks := staged
	for p, data := range readFiles(t, d.home) {
		haystacks["--home: "+p] = data
	}
	for p, data := range readFiles(t, tmp) {
		haystacks["$TMPDIR: "+p] = data
	}
	if len(haystacks) < 3 {
		t.Fatalf("only %d files searched", len(haystacks))
	}
	canaries := []string{diskVault, diskFolder, diskFile, diskBig, diskSyncDir, diskLocal, diskGetDir, diskContent}
	for _, c := range canaries {
		for form, needle := range hostile.CanaryForms(c) {
			for where, data := range haystacks {
				if bytes.Contains(data, needle) {
					t.Errorf("%s (%s) found in %s", c, form, where)
				}
			}
		}
	}
	// Control: the same search finds the plaintext where it belongs, in
	// the destinations.
	for _, dir := range []string{d.dir, out} {
		found := false
		for _, data := range readFiles(t, dir) {
			found = found || bytes.Contains(data, hostile.CanaryForms(diskContent)["raw"])
		}
		if !found {
			t.Errorf("control: the content is not found in %s", dir)
		}
	}
}

// readFiles returns every regular file under dir, its name (relative path)
// appended to its bytes, so that names are searched too.
func readFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone meanwhile
		}
		rel, _ := filepath.Rel(dir, p)
		if !e.Type().IsRegular() {
			out[rel] = []byte(rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err == nil {
			out[rel] = append(data, rel...)
		}
		return nil
	})
	return out
}
