package synctest

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests with real `coffre sync` processes against a real coffre-server
// process: kill -9 of either, a network cut, latency, editors' files.

// fast are the flags of a continuous sync in these tests.
var fast = []string{"--settle", "0s", "--debounce", "100ms", "--scan-interval", "1s"}

func rng(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d", seed)
	return rand.New(rand.NewSource(seed))
}

func aliceAndBob(t *testing.T) (*world, *procDev, *procDev) {
	t.Helper()
	w := newProcWorld(t, devSpec{"alice", "alice", "alice-laptop"}, devSpec{"bob", "bob", "bob-laptop"})
	return w, w.procDev(t, "alice"), w.procDev(t, "bob")
}

// vaultBlocks counts the blocks the server stores for the vault.
func (w *world) vaultBlocks(t testing.TB) int {
	return w.ps.CountBlocks(t, w.org, w.vault)
}

// cachedBlocks counts the blocks in a device's block cache.
func cachedBlocks(t testing.TB, home string) int {
	n := 0
	filepath.WalkDir(filepath.Join(home, "cache"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(d.Name(), ".tmp") {
			n++
		}
		return nil
	})
	return n
}

// wantVault checks the vault holds exactly the given files (path → SHA-256
// of the local file that must match), no other path.
func wantVault(t *testing.T, w *world, files map[string]string, localDir string) {
	t.Helper()
	remote, v := w.remoteTree(t)
	for p, ver := range remote {
		if _, ok := files[p]; !ok {
			t.Errorf("the vault holds %s (folder %v), not expected (a duplicate or conflict copy?)", p, ver.Manifest.Folder)
		}
	}
	for p := range files {
		ver, ok := remote[p]
		if !ok {
			t.Errorf("the vault does not hold %s", p)
			continue
		}
		if got := localContentID(t, v, filepath.Join(localDir, filepath.FromSlash(p)), ver); got != contentID(ver) {
			t.Errorf("%s: the vault's content differs from %s's file", p, localDir)
		}
	}
}

// wantFolder checks a folder holds exactly the given files with those
// hashes (and their parent folders), and no temporary file.
func wantFolder(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	tree := readTree(t, dir)
	for p, e := range tree {
		if e.folder {
			continue
		}
		want, ok := files[p]
		switch {
		case !ok:
			t.Errorf("%s: unexpected file %s (%v)", dir, p, e)
		case e.hash != want:
			t.Errorf("%s: %s has content %s, want %s", dir, p, e.hash[:12], want[:12])
		}
	}
	for p := range files {
		if _, ok := tree[p]; !ok {
			t.Errorf("%s: %s missing", dir, p)
		}
	}
	if tmp := temporaries(tree); len(tmp) > 0 {
		t.Errorf("%s: temporaries left: %v", dir, tmp)
	}
}

// TestKillClientDuringTransfer: `coffre sync` on alice is killed (SIGKILL)
// at a random point while it uploads a 200 MiB file; a restarted `coffre
// sync --once` finishes: the vault has exactly one file with that content,
// no duplicate, no conflict copy. Then bob's `coffre sync` is killed at a
// random point while it downloads it: his folder never shows a partial
// file at that path (watched every few milliseconds), and a restarted sync
// leaves the complete file and no temporary.
func TestKillClientDuringTransfer(t *testing.T) {
	longScenario(t)
	t.Parallel()
	r := rng(t)
	w, a, b := aliceAndBob(t)
	const size = 200 << 20
	start := time.Now()
	want := writeRandomFile(t, filepath.Join(a.dir, "big.bin"), size, r.Uint64())
	t.Logf("200 MiB file written in %v", time.Since(start).Round(time.Millisecond))
	files := map[string]string{"big.bin": want}

	// Upload, killed after k blocks reached the server.
	k := 2 + r.Intn(100)
	base := w.vaultBlocks(t)
	p := a.start(t, fast...)
	start = time.Now()
	if !waitFor(120*time.Second, 5*time.Millisecond, func() bool { return w.vaultBlocks(t)-base >= k || !p.running() }) || !p.running() {
		t.Fatalf("alice's sync did not upload %d blocks (running %v):\n%s", k, p.running(), p.out.String())
	}
	p.kill9()
	stored := w.vaultBlocks(t) - base
	t.Logf("alice's sync killed %v after its start, %d blocks on the server (target %d)", time.Since(start).Round(time.Millisecond), stored, k)
	if remote, _ := w.remoteTree(t); len(remote) != 0 {
		t.Logf("note: the upload had already committed before the kill: %v", sortedKeys(remote))
	}
	start = time.Now()
	a.mustOnce(t)
	t.Logf("alice's restarted sync finished in %v", time.Since(start).Round(time.Millisecond))
	wantVault(t, w, files, a.dir)
	wantFolder(t, a.dir, files)
	_, v := w.remoteTree(t)
	ver, _ := v.Stat("/big.bin", timeZero)
	total := w.vaultBlocks(t) - base
	t.Logf("upload resumption: the file has %d blocks; %d were stored before the kill, %d block files in all after the restart (%d sent again)",
		len(ver.Manifest.Blocks), stored, total, total-len(ver.Manifest.Blocks))

	// Download, killed after k blocks reached bob's block cache.
	k = 2 + r.Intn(120)
	var partial atomic.Value
	stop := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Add(1)
	go func() { // the path is absent or complete, at every look
		defer watcher.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if info, err := os.Stat(filepath.Join(b.dir, "big.bin")); err == nil && info.Size() != size {
				partial.Store(fmt.Sprintf("big.bin seen with %d bytes", info.Size()))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	cached := cachedBlocks(t, b.home)
	p = b.start(t, fast...)
	start = time.Now()
	if !waitFor(120*time.Second, 5*time.Millisecond, func() bool { return cachedBlocks(t, b.home)-cached >= k || !p.running() }) || !p.running() {
		t.Fatalf("bob's sync did not download %d blocks (running %v):\n%s", k, p.running(), p.out.String())
	}
	p.kill9()
	t.Logf("bob's sync killed %v after its start, %d blocks downloaded (target %d)", time.Since(start).Round(time.Millisecond), cachedBlocks(t, b.home)-cached, k)
	var left []string
	for q := range readTree(t, b.dir) {
		left = append(left, q)
	}
	sort.Strings(left)
	t.Logf("bob's folder after the kill: %v", left)
	start = time.Now()
	b.mustOnce(t)
	t.Logf("bob's restarted sync finished in %v", time.Since(start).Round(time.Millisecond))
	close(stop)
	watcher.Wait()
	if s, ok := partial.Load().(string); ok {
		t.Errorf("a partial file appeared in bob's folder: %s", s)
	}
	wantFolder(t, b.dir, files)
	wantVault(t, w, files, b.dir)
}

// TestKillServerDuringSync: the server is killed (SIGKILL) while alice
// uploads, and started again on the same port and data directory after a
// random pause; then killed again while bob downloads. Both continuous
// syncs carry on by themselves: everything arrives, once, byte-identical.
func TestKillServerDuringSync(t *testing.T) {
	longScenario(t)
	t.Parallel()
	r := rng(t)
	w, a, b := aliceAndBob(t)
	files := map[string]string{}
	files["one.bin"] = writeRandomFile(t, filepath.Join(a.dir, "one.bin"), 48<<20, r.Uint64())
	for i := range 3 {
		name := fmt.Sprintf("small-%d.txt", i)
		files[name] = writeRandomFile(t, filepath.Join(a.dir, name), int64(100+r.Intn(5000)), r.Uint64())
	}
	pa, pb := a.start(t, fast...), b.start(t, fast...)

	// 1. Killed during alice's upload.
	k := 2 + r.Intn(30)
	base := w.vaultBlocks(t)
	if !waitFor(60*time.Second, 5*time.Millisecond, func() bool { return w.vaultBlocks(t)-base >= k }) {
		t.Fatalf("alice did not upload %d blocks:\n%s", k, pa.out.String())
	}
	w.ps.Kill()
	pause := time.Duration(r.Intn(2000)) * time.Millisecond
	t.Logf("server killed after %d blocks of alice's upload; restarted after %v", w.vaultBlocks(t)-base, pause)
	time.Sleep(pause)
	w.ps.Start()
	start := time.Now()
	if !waitFor(90*time.Second, 50*time.Millisecond, func() bool { return sameFiles(t, b.dir, files) }) {
		t.Fatalf("bob did not get alice's files within 90s of the restart; bob has %v\nalice:\n%s\nbob:\n%s",
			sortedKeys(readTree(t, b.dir)), pa.out.String(), pb.out.String())
	}
	t.Logf("bob has everything %v after the restart", time.Since(start).Round(time.Millisecond))

	// 2. Killed during bob's download.
	staging := filepath.Join(t.TempDir(), "two.bin") // written whole, then moved in
	files["two.bin"] = writeRandomFile(t, staging, 48<<20, r.Uint64())
	if err := os.Rename(staging, filepath.Join(a.dir, "two.bin")); err != nil {
		t.Fatal(err)
	}
	cached := cachedBlocks(t, b.home)
	k = 2 + r.Intn(30)
	if !waitFor(60*time.Second, 5*time.Millisecond, func() bool { return cachedBlocks(t, b.home)-cached >= k }) {
		t.Fatalf("bob did not download %d blocks:\nalice:\n%s\nbob:\n%s", k, pa.out.String(), pb.out.String())
	}
	w.ps.Kill()
	pause = time.Duration(r.Intn(2000)) * time.Millisecond
	t.Logf("server killed after %d blocks of bob's download; restarted after %v", cachedBlocks(t, b.home)-cached, pause)
	time.Sleep(pause)
	w.ps.Start()
	start = time.Now()
	if !waitFor(90*time.Second, 50*time.Millisecond, func() bool { return sameFiles(t, b.dir, files) }) {
		t.Fatalf("bob did not get two.bin within 90s of the restart; bob has %v\nalice:\n%s\nbob:\n%s",
			sortedKeys(readTree(t, b.dir)), pa.out.String(), pb.out.String())
	}
	t.Logf("bob has everything %v after the restart", time.Since(start).Round(time.Millisecond))
	pa.stop(t)
	pb.stop(t)
	wantFolder(t, a.dir, files)
	wantFolder(t, b.dir, files)
	wantVault(t, w, files, a.dir)
}

// sameFiles reports whether dir holds exactly files (by SHA-256), cheaply
// first by size.
func sameFiles(t testing.TB, dir string, files map[string]string) bool {
	tree := map[string]os.FileInfo{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			tree[filepath.ToSlash(rel)] = info
		}
		return nil
	})
	if len(tree) != len(files) {
		return false
	}
	for p, want := range files {
		if _, ok := tree[p]; !ok {
			return false
		}
		if h, _, err := hashFile(filepath.Join(dir, filepath.FromSlash(p))); err != nil || h != want {
			return false
		}
	}
	return true
}

// TestNetworkCutEditsArriveAfter: the server stops while both syncs run;
// alice edits, creates and deletes meanwhile (her status says offline; her
// folder stays as she left it); when the server is back, bob gets it all.
func TestNetworkCutEditsArriveAfter(t *testing.T) {
	longScenario(t)
	t.Parallel()
	w, a, b := aliceAndBob(t)
	write := func(dir, rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a.dir, "plan.txt", "before the cut")
	write(a.dir, "gone.txt", "deleted during the cut")
	pa, pb := a.start(t, fast...), b.start(t, fast...)
	if !waitFor(30*time.Second, 50*time.Millisecond, func() bool { return sameTree(t, a.dir, b.dir) && len(readTree(t, b.dir)) == 2 }) {
		t.Fatalf("initial sync did not complete:\n%s\n%s", pa.out.String(), pb.out.String())
	}

	w.ps.Stop()
	cut := time.Now()
	write(a.dir, "plan.txt", "edited during the cut")
	write(a.dir, "new/deep/memo.txt", "created during the cut")
	os.Remove(filepath.Join(a.dir, "gone.txt"))
	if !waitFor(30*time.Second, 50*time.Millisecond, func() bool {
		st, err := a.status()
		return err == nil && st.State == "offline"
	}) {
		st, err := a.status()
		t.Fatalf("alice's status never said offline: %+v %v\n%s", st, err, pa.out.String())
	}
	st, _ := a.status()
	t.Logf("alice's status %v after the cut: %s (%s)", time.Since(cut).Round(time.Millisecond), st.State, st.LastError)
	write(a.dir, "later.txt", "written while offline") // the folder is not blocked
	time.Sleep(1500 * time.Millisecond)                // a few failed cycles
	if got, _ := os.ReadFile(filepath.Join(a.dir, "plan.txt")); string(got) != "edited during the cut" {
		t.Errorf("alice's edit changed while offline: %q", got)
	}

	w.ps.Start()
	back := time.Now()
	if !waitFor(60*time.Second, 50*time.Millisecond, func() bool { return sameTree(t, a.dir, b.dir) }) {
		t.Fatalf("bob's folder did not catch up within 60s of the server's return:\n%s\nalice:\n%s\nbob:\n%s",
			diffTrees(readTree(t, a.dir), readTree(t, b.dir), "alice", "bob"), pa.out.String(), pb.out.String())
	}
	t.Logf("the edits made offline reached bob %v after the server came back (it was away %v)",
		time.Since(back).Round(time.Millisecond), back.Sub(cut).Round(time.Millisecond))
	want := map[string]string{
		"plan.txt":          hashBytes([]byte("edited during the cut")),
		"new/deep/memo.txt": hashBytes([]byte("created during the cut")),
		"later.txt":         hashBytes([]byte("written while offline")),
	}
	wantFolder(t, b.dir, want)
	if !waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		st, err := a.status()
		return err == nil && st.State == "idle"
	}) {
		st, _ := a.status()
		t.Errorf("alice's status after the return: %+v", st)
	}
}

func sameTree(t testing.TB, a, b string) bool {
	return diffTrees(readTree(t, a), readTree(t, b), "a", "b") == ""
}

// TestSyncLatency measures how long a file written on alice takes to be
// complete on bob, with both syncs running (--debounce 100ms, --settle 0s)
// and the periodic scan out of the way (--scan-interval 1m): the path is
// alice's file watcher, her upload, the server's Watch event to bob, his
// download.
func TestSyncLatency(t *testing.T) {
	_, a, b := aliceAndBob(t)
	flags := []string{"--settle", "0s", "--debounce", "100ms", "--scan-interval", "1m"}
	pa, pb := a.start(t, flags...), b.start(t, flags...)
	staging := t.TempDir() // same file system: a rename puts a complete file in place
	var lat []time.Duration
	for i := -1; i < 10; i++ { // i == -1 warms up (bob's Watch stream connects)
		name := fmt.Sprintf("latency-%02d.txt", i+1)
		content := fmt.Sprintf("file %d written at %s\n%s", i, time.Now().Format(time.RFC3339Nano), strings.Repeat("x", 4096))
		tmp := filepath.Join(staging, name)
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := os.Rename(tmp, filepath.Join(a.dir, name)); err != nil {
			t.Fatal(err)
		}
		ok := waitFor(20*time.Second, 2*time.Millisecond, func() bool {
			got, err := os.ReadFile(filepath.Join(b.dir, name))
			return err == nil && string(got) == content
		})
		d := time.Since(start)
		if !ok {
			t.Fatalf("%s did not reach bob within 20s\nalice:\n%s\nbob:\n%s", name, pa.out.String(), pb.out.String())
		}
		if i >= 0 {
			lat = append(lat, d)
		}
		time.Sleep(300 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50 := lat[len(lat)/2]
	p99 := lat[(len(lat)*99+99)/100-1]
	var all []string
	for _, d := range lat {
		all = append(all, fmt.Sprint(d.Milliseconds()))
	}
	t.Logf("sync latency A→B over %d files: p50 %d ms, p99 %d ms (all, ms: %s)", len(lat), p50.Milliseconds(), p99.Milliseconds(), strings.Join(all, " "))
	fmt.Printf("sync latency A→B: p50 %d ms, p99 %d ms\n", p50.Milliseconds(), p99.Milliseconds())
	if p99 > 5*time.Second {
		t.Errorf("p99 latency %v: remote changes don't seem to arrive through Watch events", p99)
	}
}

// TestIgnoredAndPartialFiles: editors' temporary and lock files, and what
// .coffreignore lists, are never uploaded; a file still being written
// (appended every 100 ms for 2 s, with --settle 1s) is not uploaded until
// it settles, and is then uploaded complete, in one version.
func TestIgnoredAndPartialFiles(t *testing.T) {
	w, a, _ := aliceAndBob(t)
	put := func(rel, content string) {
		p := filepath.Join(a.dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put(".coffreignore", "# mine\n*.bak\nprivate-*\nbuild\n")
	ignored := []string{"~$report.docx", ".~lock.report.odt#", "report.txt.swp", ".report.swp", "draft.tmp", "4913",
		"notes~", ".#notes", "#notes#", ".DS_Store", "Thumbs.db", "report.bak", "private-diary.txt", "build/out.o", "docs/~$inner.docx"}
	for _, p := range ignored {
		put(p, "must stay local: "+p)
	}
	put("keep.txt", "kept")
	put("docs/keep.txt", "kept too")
	pa := a.start(t, "--settle", "1s", "--debounce", "100ms", "--scan-interval", "1s")

	// The file being written.
	growing := filepath.Join(a.dir, "growing.log")
	f, err := os.Create(growing)
	if err != nil {
		t.Fatal(err)
	}
	writing := make(chan struct{})
	var final []byte
	go func() {
		defer close(writing)
		for i := range 20 {
			line := fmt.Sprintf("line %02d %s\n", i, strings.Repeat("y", 1000))
			f.Write([]byte(line))
			final = append(final, line...)
			time.Sleep(100 * time.Millisecond)
		}
		f.Close()
	}()
	var early []string
	done := false
	for !done {
		select {
		case <-writing:
			done = true
		case <-time.After(150 * time.Millisecond):
		}
		if remote, _ := w.remoteTree(t); !done {
			if ver, ok := remote["growing.log"]; ok {
				early = append(early, fmt.Sprintf("%d bytes", ver.Manifest.Size))
			}
		}
	}
	finished := time.Now()
	if len(early) > 0 {
		t.Errorf("growing.log was uploaded while still being written: %v", early)
	}
	var uploadedAfter time.Duration
	if !waitFor(20*time.Second, 50*time.Millisecond, func() bool {
		remote, _ := w.remoteTree(t)
		_, ok := remote["growing.log"]
		uploadedAfter = time.Since(finished)
		return ok
	}) {
		t.Fatalf("growing.log was not uploaded within 20s of its last write:\n%s", pa.out.String())
	}
	t.Logf("growing.log uploaded %v after its last write (settle 1s)", uploadedAfter.Round(time.Millisecond))
	if uploadedAfter < 900*time.Millisecond {
		t.Errorf("growing.log uploaded %v after its last write, before it settled (1s)", uploadedAfter)
	}
	time.Sleep(1500 * time.Millisecond) // a few more cycles
	pa.stop(t)
	remote, v := w.remoteTree(t)
	if got, want := strings.Join(sortedKeys(remote), " "), "docs docs/keep.txt growing.log keep.txt"; got != want {
		t.Errorf("the vault holds %q, want %q (ignored files uploaded?)", got, want)
	}
	if ver, ok := remote["growing.log"]; ok {
		if contentID(ver) != localContentID(t, v, growing, ver) || ver.Manifest.Size != uint64(len(final)) {
			t.Errorf("growing.log in the vault (%d bytes) is not the complete file (%d bytes)", ver.Manifest.Size, len(final))
		}
		if h, _ := v.History("/growing.log"); len(h) != 1 {
			t.Errorf("growing.log has %d versions in the vault, want 1 (uploaded half-written before?)", len(h))
		}
	}
	for _, p := range ignored {
		if _, err := os.Stat(filepath.Join(a.dir, filepath.FromSlash(p))); err != nil {
			t.Errorf("ignored file %s is gone from alice's folder: %v", p, err)
		}
	}
}

// TestKillClientAtRandomPoints: alice keeps changing her folder (new
// files, edits, renames, deletions, a few MiB-sized files) while her `coffre
// sync` and bob's run; both are killed with SIGKILL at a random moment,
// then restarted (`coffre sync --once`), six times. Only alice writes, so
// after each restart both folders and the vault must be exactly alice's
// folder: nothing lost, no duplicate, no conflict copy, no temporary.
//
// The restarts run before alice changes anything again, bob's first: a
// newer version arriving between a kill and the restart would hit the bug
// TestCrashBeforeJournalWrite shows (a spurious conflict copy).
func TestKillClientAtRandomPoints(t *testing.T) {
	longScenario(t)
	t.Parallel()
	r := rng(t)
	w, a, b := aliceAndBob(t)
	n := 0
	var names []string
	for round := range 6 {
		pa, pb := a.start(t, fast...), b.start(t, fast...)
		for range 3 + r.Intn(5) {
			n++
			switch op := r.Intn(10); {
			case op < 4 || len(names) == 0:
				name := fmt.Sprintf("f%03d.txt", n)
				size := int64(1 + r.Intn(20000))
				if r.Intn(5) == 0 {
					size = int64(2<<20 + r.Intn(6<<20))
				}
				writeRandomFile(t, filepath.Join(a.dir, name), size, r.Uint64())
				names = append(names, name)
			case op < 6:
				writeRandomFile(t, filepath.Join(a.dir, names[r.Intn(len(names))]), int64(1+r.Intn(50000)), r.Uint64())
			case op < 8:
				i := r.Intn(len(names))
				to := fmt.Sprintf("r%03d.txt", n)
				os.Rename(filepath.Join(a.dir, names[i]), filepath.Join(a.dir, to))
				names[i] = to
			default:
				i := r.Intn(len(names))
				os.Remove(filepath.Join(a.dir, names[i]))
				names = append(names[:i], names[i+1:]...)
			}
			time.Sleep(time.Duration(r.Intn(150)) * time.Millisecond)
		}
		time.Sleep(time.Duration(r.Intn(1200)) * time.Millisecond)
		pa.kill9()
		pb.kill9()
		b.mustOnce(t)
		a.mustOnce(t)
		b.mustOnce(t)
		want := map[string]string{}
		for p, e := range readTree(t, a.dir) {
			if !e.folder {
				want[p] = e.hash
			}
		}
		t.Logf("round %d: both syncs killed and restarted; alice has %d files", round, len(want))
		if len(want) != len(names) {
			t.Errorf("alice's folder holds %d files, she made %d: %v", len(want), len(names), sortedKeys(want))
		}
		wantFolder(t, b.dir, want)
		wantVault(t, w, want, a.dir)
		if t.Failed() {
			return
		}
	}
}
