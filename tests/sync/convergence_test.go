package synctest

import (
	"flag"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestRandomisedConvergence drives three devices of two users (alice on two
// devices, bob) syncing one vault in-process through a seeded random
// sequence of operations — create (empty, small, 3–6 MiB), overwrite,
// append, a small edit in the middle of a large file, rename, move into
// another folder, delete, nested mkdir, folder delete, folder rename/move,
// concurrent edits of one file and concurrent creations of one name on two
// devices, a file on one device where another made a folder — interleaved
// with sync cycles on random devices, some of them offline for a while
// (they keep working but don't sync). Then every device cycles until a
// whole round does nothing, and:
//
//   - every folder holds the same tree (paths, folders, content hashes),
//     which is also the vault's (paths, kinds, content ids);
//   - nothing was lost (the ledger invariant below);
//   - no download temporary is left; conflict copies are named after a
//     device and a time;
//   - no two files hold the same bytes (empty ones aside), conflict
//     copies included: the test never copies a file, so a second one is
//     a duplicate sync made.
//
// The ledger invariant. Every content the test writes is unique (it starts
// with a unique counter), so a hash names one write. A content is
// *protected* once a sync cycle has seen it: it was the content of some
// file in a device's folder when a cycle started on that device (the
// snapshot is taken just before the cycle). A content is *released* when a
// user deliberately destroys a copy of it: on some device, a file holding
// it is overwritten, appended to, edited in place, deleted, or its folder
// deleted. (Renames and moves keep the content.) The rule the issue asks
// for — a conflict keeps both, a remote delete never removes a local edit,
// a local delete never removes a remote edit — means a content can leave
// the last folder only because someone who held it destroyed it; so every
// protected, unreleased content must be in the final tree, under its name,
// another name, or a conflict copy. Releasing is global (one device's
// deliberate destruction releases every copy), which only weakens the
// check, never makes it fail wrongly. Contents overwritten before any cycle
// saw them are not protected: sync never knew them. The empty content is
// not unique and is left out.
//
// Folder deletions and moves race with other devices' changes inside them
// (TestRemoteFolderDeleteKeepsLocalAdditions, TestConcurrentMovesOfOneFolder
// show cases alone; -concurrent-folder-ops=false runs them only with every
// device in sync before and after), and an empty file may be overwritten
// with empty content (TestRemoteDeleteOfResavedFile; -resave-empty=false
// keeps that out).
//
// The seed is printed; rerun one with `go test ./tests/sync -run
// TestRandomisedConvergence -seed N`.
func TestRandomisedConvergence(t *testing.T) {
	longScenario(t)
	t.Parallel()
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	fmt.Printf("TestRandomisedConvergence: seed %d\n", seed)

	w := newHostileWorld(t,
		devSpec{"alice", "alice", "alice-laptop"},
		devSpec{"alice2", "alice", "alice-desktop"},
		devSpec{"bob", "bob", "bob-laptop"})
	m := &model{
		t: t, r: rand.New(rand.NewSource(seed)), offline: map[string]int{},
		protected: map[string]string{}, released: map[string]bool{}, hashes: map[string]hashed{},
	}
	for _, n := range []string{"alice", "alice2", "bob"} {
		m.devs = append(m.devs, w.engine(t, n))
	}
	defer func() {
		if t.Failed() {
			t.Logf("operations (seed %d):\n%s", seed, strings.Join(m.log, "\n"))
			for _, d := range m.devs {
				t.Logf("%s's engine log (last lines):\n%s", d.name, lastLines(d.logs.String(), 300))
			}
		}
	}()

	start := time.Now()
	const steps = 150
	for i := 0; i < steps; i++ {
		m.step()
	}
	t.Logf("%d random steps in %v: %d cycles (%d failed), %d conflicts", steps, time.Since(start).Round(time.Millisecond), m.cycles, m.failed, m.conflicts)

	// Everyone online; cycle until a whole round does nothing.
	for k := range m.offline {
		delete(m.offline, k)
	}
	quiet := false
	var lastErrs []string
	for round := 1; round <= 12 && !quiet; round++ {
		quiet = true
		lastErrs = nil
		for _, d := range m.devs {
			res, err := m.cycle(d)
			if err != nil {
				lastErrs = append(lastErrs, fmt.Sprintf("%s: %v", d.name, err))
			}
			if err != nil || res.Busy() || res.Pending > 0 {
				quiet = false
			}
		}
		m.logf("round %d: quiet=%v errors=%v", round, quiet, lastErrs)
	}
	t.Logf("converged in %v overall: %d cycles, %d conflicts, %d files moved on two devices", time.Since(start).Round(time.Millisecond), m.cycles, m.conflicts, m.moved)
	if !quiet {
		t.Errorf("no quiet round after 12 rounds of cycles on every device; last errors: %v", lastErrs)
	}

	// 1. Every folder holds the same tree.
	trees := map[string]map[string]entry{}
	for _, d := range m.devs {
		trees[d.name] = readTree(t, d.dir)
	}
	ref := trees["alice"]
	for _, d := range m.devs[1:] {
		if diff := diffTrees(ref, trees[d.name], "alice", d.name); diff != "" {
			t.Errorf("alice's and %s's folders differ:\n%s", d.name, diff)
		}
	}
	files, folders := 0, 0
	for _, e := range ref {
		if e.folder {
			folders++
		} else {
			files++
		}
	}
	t.Logf("final tree: %d files, %d folders", files, folders)

	// ... and the vault's.
	remote, v := w.remoteTree(t)
	for p, ver := range remote {
		e, ok := ref[p]
		switch {
		case !ok:
			t.Errorf("vault has %s, alice's folder does not", p)
		case e.folder != ver.Manifest.Folder:
			t.Errorf("%s: folder %v in the vault, %v locally", p, ver.Manifest.Folder, e.folder)
		case !e.folder && (uint64(e.size) != ver.Manifest.Size || contentID(ver) != localContentID(t, v, filepath.Join(m.devs[0].dir, filepath.FromSlash(p)), ver)):
			t.Errorf("%s: the vault's content differs from alice's", p)
		}
	}
	for p := range ref {
		if _, ok := remote[p]; !ok {
			t.Errorf("alice's folder has %s, the vault does not", p)
		}
	}

	// 2. Nothing lost: every protected, unreleased content is in some
	// device's folder (all the same when the trees agree; the union when
	// they don't, so that a content stuck on one device counts as stuck,
	// not lost).
	final := map[string]bool{}
	for _, tree := range trees {
		for _, e := range tree {
			if !e.folder {
				final[e.hash] = true
			}
		}
	}
	lost := 0
	for h, where := range m.protected {
		if !m.released[h] && !final[h] {
			lost++
			t.Errorf("lost: content %s (%s) was seen by sync, never deliberately destroyed, and is in no file", h[:12], where)
		}
	}
	t.Logf("ledger: %d contents seen by sync, %d released by user operations, %d lost", len(m.protected), len(m.released), lost)

	// 3. No temporaries; conflict copies well named.
	for _, d := range m.devs {
		if tmp := temporaries(trees[d.name]); len(tmp) > 0 {
			t.Errorf("%s: temporary files left: %v", d.name, tmp)
		}
	}
	labels := map[string]bool{"alice-laptop": true, "alice-desktop": true, "bob-laptop": true}
	copies := 0
	for _, p := range sortedKeys(ref) {
		name := path.Base(p)
		if !strings.Contains(name, "(conflict ") {
			continue
		}
		copies++
		mm := conflictName.FindStringSubmatch(name)
		if mm == nil || !labels[mm[2]] {
			t.Errorf("conflict copy %q is not named \"name (conflict DEVICE YYYY-MM-DD HHMMSS).ext\" after a device", p)
		}
	}
	t.Logf("%d conflict copies in the final tree", copies)

	// 4. No file twice: every content the test writes is unique, and no
	// operation copies one, so two files with the same bytes are a sync
	// duplicate (a move carried twice, or a conflict copy of what one
	// side did not change: seeds 6017 and 5027, before the kind changes
	// of SPEC.md §12). Empty files all hold the same bytes and are left
	// out.
	seen := map[string]string{}
	for _, p := range sortedKeys(ref) {
		e := ref[p]
		if e.folder || e.hash == emptyHash {
			continue
		}
		if other, dup := seen[e.hash]; dup {
			t.Errorf("%q and %q hold the same content", other, p)
		}
		seen[e.hash] = p
	}
}

// model is the random driver's state.
type model struct {
	t         *testing.T
	r         *rand.Rand
	devs      []*engineDev
	offline   map[string]int // device → operations left before it syncs again
	counter   int
	protected map[string]string // content hash → where sync first saw it
	released  map[string]bool
	hashes    map[string]hashed // cache of file hashes by path, size and mtime
	log       []string
	cycles    int
	failed    int
	conflicts int
	moved     int // files moved on two devices, put where the vault had them
}

type hashed struct {
	size, mtime int64
	hash        string
}

func (m *model) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf("%4d ", len(m.log))+fmt.Sprintf(format, args...))
}

func (m *model) fail(err error) {
	if err != nil {
		m.t.Fatalf("test operation: %v", err)
	}
}

// hash returns a file's SHA-256 (cached by size and mtime).
func (m *model) hash(p string) string {
	info, err := os.Stat(p)
	m.fail(err)
	if h, ok := m.hashes[p]; ok && h.size == info.Size() && h.mtime == info.ModTime().UnixNano() {
		return h.hash
	}
	h, _, err := hashFile(p)
	m.fail(err)
	m.hashes[p] = hashed{info.Size(), info.ModTime().UnixNano(), h}
	return h
}

// list returns a device's files and folders (slash paths, sorted).
func (m *model) list(d *engineDev) (files, folders []string) {
	filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(d.dir, p)
		if rel == "." {
			return nil
		}
		if e.IsDir() {
			folders = append(folders, filepath.ToSlash(rel))
		} else {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files, folders
}

func (m *model) abs(d *engineDev, rel string) string {
	return filepath.Join(d.dir, filepath.FromSlash(rel))
}

// release records that a user destroyed the content of a file.
func (m *model) release(d *engineDev, rel string) {
	if h := m.hash(m.abs(d, rel)); h != emptyHash {
		m.released[h] = true
	}
}

var emptyHash = hashBytes(nil)

// content makes unique bytes of about the given size (exactly size, but at
// least the header; 0 gives an empty file).
func (m *model) content(d *engineDev, size int) []byte {
	if size == 0 {
		return nil
	}
	m.counter++
	head := fmt.Sprintf("#%06d written on %s\n", m.counter, d.name)
	b := make([]byte, max(size, len(head)))
	copy(b, head)
	newXorshift(m.r.Uint64()).fill(b[len(head):])
	return b
}

// size picks a file size: some empty, most small, some 3–6 MiB.
func (m *model) size() int {
	switch x := m.r.Intn(100); {
	case x < 12:
		return 0
	case x < 24:
		return 3<<20 + m.r.Intn(3<<20)
	default:
		return 1 + m.r.Intn(64<<10)
	}
}

// sizeFor picks the size of new content for an existing file: never empty
// over empty, which would be a save without change — sync then never
// merges a remote delete of that file (the bug TestRemoteDeleteOfResavedFile
// shows); set -resave-empty to let the driver do it anyway.
func (m *model) sizeFor(d *engineDev, rel string) int {
	n := m.size()
	if info, err := os.Stat(m.abs(d, rel)); n == 0 && err == nil && info.Size() == 0 && !*resaveEmpty {
		n = 1 + m.r.Intn(1000)
	}
	return n
}

var resaveEmpty = flag.Bool("resave-empty", true, "TestRandomisedConvergence: let an empty file be overwritten with empty content")

var exts = []string{".txt", ".bin", ".docx", ".pdf", ""}

func (m *model) newName(prefix string) string {
	m.counter++
	return fmt.Sprintf("%s%03d%s", prefix, m.counter, exts[m.r.Intn(len(exts))])
}

func (m *model) newFolderName() string {
	m.counter++
	return fmt.Sprintf("d%03d", m.counter)
}

func (m *model) pick(list []string) string { return list[m.r.Intn(len(list))] }

func (m *model) write(d *engineDev, rel string, data []byte) {
	m.fail(os.WriteFile(m.abs(d, rel), data, 0o644))
}

// cycle runs one cycle on d, after recording what it is about to see.
func (m *model) cycle(d *engineDev) (res syncResult, err error) {
	files, _ := m.list(d)
	for _, f := range files {
		if h := m.hash(m.abs(d, f)); h != emptyHash {
			if _, ok := m.protected[h]; !ok {
				m.protected[h] = fmt.Sprintf("%s:%s before cycle %d", d.name, f, m.cycles+1)
			}
		}
	}
	m.cycles++
	r, err := d.cycle()
	m.conflicts += r.Conflicts
	m.moved += r.Moved
	if err != nil {
		m.failed++
	}
	m.logf("cycle %d on %s: up %d down %d delL %d delR %d conflicts %d moved %d pending %d err %v",
		m.cycles, d.name, r.Uploaded, r.Downloaded, r.DeletedLocal, r.DeletedRemote, r.Conflicts, r.Moved, r.Pending, err)
	return syncResult{r.Busy(), r.Pending}, err
}

type syncResult struct {
	busy    bool
	Pending int
}

func (r syncResult) Busy() bool { return r.busy }

// step does one random thing.
func (m *model) step() {
	d := m.devs[m.r.Intn(len(m.devs))]
	if n := m.offline[d.name]; n > 0 {
		m.offline[d.name] = n - 1
	}
	files, folders := m.list(d)
	op := m.r.Intn(100)
	switch {
	case op < 30: // sync
		if m.offline[d.name] > 0 {
			m.logf("%s is offline: no cycle", d.name)
			return
		}
		m.cycle(d)
	case op < 33: // go offline for a while
		n := 4 + m.r.Intn(10)
		m.offline[d.name] = n
		m.logf("%s goes offline for %d steps", d.name, n)
	case op < 48 || len(files) == 0: // create
		dir := ""
		if len(folders) > 0 && m.r.Intn(3) > 0 {
			dir = m.pick(folders)
		}
		rel := path.Join(dir, m.newName("f"))
		data := m.content(d, m.size())
		m.write(d, rel, data)
		m.logf("%s: create %s (%d bytes)", d.name, rel, len(data))
	case op < 55: // overwrite
		rel := m.pick(files)
		m.release(d, rel)
		data := m.content(d, m.sizeFor(d, rel))
		m.write(d, rel, data)
		m.logf("%s: overwrite %s (%d bytes)", d.name, rel, len(data))
	case op < 60: // append
		rel := m.pick(files)
		m.release(d, rel)
		f, err := os.OpenFile(m.abs(d, rel), os.O_APPEND|os.O_WRONLY, 0)
		m.fail(err)
		_, err = f.Write(m.content(d, 1+m.r.Intn(4096)))
		m.fail(err)
		m.fail(f.Close())
		m.logf("%s: append to %s", d.name, rel)
	case op < 65: // small edit in the middle of a large file
		var large []string
		for _, f := range files {
			if info, err := os.Stat(m.abs(d, f)); err == nil && info.Size() > 1<<20 {
				large = append(large, f)
			}
		}
		if len(large) == 0 {
			rel := m.newName("big")
			m.write(d, rel, m.content(d, 3<<20+m.r.Intn(3<<20)))
			m.logf("%s: create large %s", d.name, rel)
			return
		}
		rel := m.pick(large)
		m.release(d, rel)
		info, _ := os.Stat(m.abs(d, rel))
		f, err := os.OpenFile(m.abs(d, rel), os.O_WRONLY, 0)
		m.fail(err)
		m.counter++
		at := info.Size()/2 + int64(m.r.Intn(1<<16))
		_, err = f.WriteAt([]byte(fmt.Sprintf("<%08d>", m.counter)), at)
		m.fail(err)
		m.fail(f.Close())
		m.logf("%s: 10-byte edit of %s at %d", d.name, rel, at)
	case op < 70: // rename a file in its folder
		rel := m.pick(files)
		to := path.Join(path.Dir(rel), m.newName("r"))
		m.fail(os.Rename(m.abs(d, rel), m.abs(d, to)))
		m.logf("%s: rename %s → %s", d.name, rel, to)
	case op < 75: // move a file into another folder
		rel := m.pick(files)
		dir := ""
		if len(folders) > 0 {
			dir = m.pick(folders)
		}
		to := path.Join(dir, path.Base(rel))
		// A moved conflict copy gets a fresh name: every conflict-copy
		// name in the final tree is then where sync made it.
		if _, err := os.Lstat(m.abs(d, to)); err == nil || strings.Contains(rel, "(conflict ") {
			to = path.Join(dir, m.newName("m"))
		}
		m.fail(os.Rename(m.abs(d, rel), m.abs(d, to)))
		m.logf("%s: move %s → %s", d.name, rel, to)
	case op < 80: // delete a file
		rel := m.pick(files)
		m.release(d, rel)
		m.fail(os.Remove(m.abs(d, rel)))
		m.logf("%s: delete %s", d.name, rel)
	case op < 86: // nested mkdir
		dir := ""
		if len(folders) > 0 && m.r.Intn(2) == 0 {
			dir = m.pick(folders)
		}
		for range 1 + m.r.Intn(3) {
			dir = path.Join(dir, m.newFolderName())
		}
		m.fail(os.MkdirAll(m.abs(d, dir), 0o755))
		m.logf("%s: mkdir -p %s", d.name, dir)
	case op < 88: // delete a folder and everything in it
		if len(folders) == 0 {
			return
		}
		if !*concurrentFolderOps {
			defer m.serialise(d)()
			files, folders = m.list(d)
			if len(folders) == 0 {
				return
			}
		}
		dir := m.pick(folders)
		for _, f := range files {
			if strings.HasPrefix(f, dir+"/") {
				m.release(d, f)
			}
		}
		m.fail(os.RemoveAll(m.abs(d, dir)))
		m.logf("%s: rm -r %s", d.name, dir)
	case op < 91: // rename or move a folder
		if len(folders) == 0 {
			return
		}
		if !*concurrentFolderOps {
			defer m.serialise(d)()
			_, folders = m.list(d)
			if len(folders) == 0 {
				return
			}
		}
		dir := m.pick(folders)
		parent := path.Dir(dir)
		if parent == "." {
			parent = ""
		}
		if m.r.Intn(2) == 0 { // move elsewhere (never into itself)
			var targets []string
			for _, f := range folders {
				if f != dir && !strings.HasPrefix(f, dir+"/") {
					targets = append(targets, f)
				}
			}
			parent = ""
			if len(targets) > 0 && m.r.Intn(3) > 0 {
				parent = m.pick(targets)
			}
		}
		to := path.Join(parent, m.newFolderName())
		m.fail(os.Rename(m.abs(d, dir), m.abs(d, to)))
		m.logf("%s: move folder %s → %s", d.name, dir, to)
	case op < 96: // concurrent edits of one file on two devices
		o := m.other(d)
		ofiles, _ := m.list(o)
		in := map[string]bool{}
		for _, f := range ofiles {
			in[f] = true
		}
		var common []string
		for _, f := range files {
			if in[f] {
				common = append(common, f)
			}
		}
		if len(common) == 0 {
			return
		}
		rel := m.pick(common)
		for _, x := range []*engineDev{d, o} {
			m.release(x, rel)
			m.write(x, rel, m.content(x, m.sizeFor(x, rel)))
		}
		m.logf("%s and %s: concurrent edits of %s", d.name, o.name, rel)
	case op < 99: // the same new name on two devices
		o := m.other(d)
		rel := m.newName("same")
		m.write(d, rel, m.content(d, m.size()))
		m.write(o, rel, m.content(o, m.size()))
		m.logf("%s and %s: both create %s", d.name, o.name, rel)
	default: // a file here, a folder there, same name
		o := m.other(d)
		rel := m.newName("kind")
		m.write(d, rel, m.content(d, 1+m.r.Intn(1000)))
		m.fail(os.MkdirAll(m.abs(o, path.Join(rel, "inner")), 0o755))
		m.write(o, path.Join(rel, "inner", "x.txt"), m.content(o, 100))
		m.logf("%s: file %s; %s: folder %s with a file", d.name, rel, o.name, rel)
	}
}

// concurrentFolderOps lets folder deletions and moves race with other
// devices' changes inside those folders (TestRemoteFolderDeleteKeepsLocalAdditions
// shows the case on its own).
var concurrentFolderOps = flag.Bool("concurrent-folder-ops", true, "TestRandomisedConvergence: folder deletions and moves race with edits inside them")

// serialise brings every device in sync before a folder deletion or move,
// and returns what does it again after it: no other device has unsynced
// changes inside the folder meanwhile.
func (m *model) serialise(d *engineDev) func() {
	m.syncAll("before a folder operation")
	return func() {
		m.cycle(d)
		m.syncAll("after a folder operation")
	}
}

// syncAll cycles every device (offline ones too) until a round does
// nothing, at most 8 rounds.
func (m *model) syncAll(why string) {
	for round := 0; round < 8; round++ {
		quiet := true
		for _, x := range m.devs {
			res, err := m.cycle(x)
			if err != nil || res.Busy() || res.Pending > 0 {
				quiet = false
			}
		}
		if quiet {
			return
		}
	}
	m.logf("no quiet round %s", why)
}

func (m *model) other(d *engineDev) *engineDev {
	var others []*engineDev
	for _, x := range m.devs {
		if x != d {
			others = append(others, x)
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].name < others[j].name })
	return others[m.r.Intn(len(others))]
}
