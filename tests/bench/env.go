package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coffre/coffre/tests/harness"
)

// sizes of the cases: BENCH.md's, or small ones with -quick.
type sizes struct {
	putBytes       int64         // put / get: one file
	syncFiles      int           // sync / list: files of syncFileSize in one folder
	syncFileSize   int           //
	events         int           // changes timed, per path (library, sync folder)
	unshareMembers int           // members of the vault a member is removed from
	orgUsers       int           // users of the organisation a new device joins
	clients        int           // concurrent clients
	loadFor        time.Duration // how long they write
	memBytes       int64         // the big put whose memory is measured
	memSmallBytes  int64         // the small put it is compared with
}

var fullSizes = sizes{
	putBytes: 1 << 30, syncFiles: 10000, syncFileSize: 4096, events: 100,
	unshareMembers: 1000, orgUsers: 10000, clients: 100, loadFor: 60 * time.Second,
	memBytes: 10 << 30, memSmallBytes: 256 << 20,
}

var quickSizes = sizes{
	putBytes: 64 << 20, syncFiles: 500, syncFileSize: 4096, events: 10,
	unshareMembers: 50, orgUsers: 500, clients: 10, loadFor: 5 * time.Second,
	memBytes: 256 << 20, memSmallBytes: 32 << 20,
}

// passphrase of every device the suite makes.
var passphrase = []byte("benchmark passphrase, not a secret")

// env is what the cases share.
type env struct {
	o     options
	sz    sizes
	dir   string // everything the suite writes
	out   io.Writer
	logMu sync.Mutex

	gobin  string // where go install puts age and rclone
	age    string // path, or "" with ageWhy
	ageWhy string
	rclone string
	rcWhy  string
	coffre string // the coffre binary (built on first use)

	filesState  *files      // put → get
	folderState *folder     // sync → list
	loadBase    *loadResult // concurrent → concurrent-postgres …: the baseline load
	loadBaseErr error
	cleanups    []func()
}

func newEnv(ctx context.Context, o options, log io.Writer) (*env, error) {
	e := &env{o: o, sz: fullSizes, out: log}
	if o.quick {
		e.sz = quickSizes
	}
	if o.clients > 0 {
		e.sz.clients = o.clients
	}
	if o.loadFor > 0 {
		e.sz.loadFor = o.loadFor
	}
	var err error
	if o.tmp != "" {
		e.dir = o.tmp
		err = os.MkdirAll(e.dir, 0o700)
	} else {
		e.dir, err = os.MkdirTemp("", "coffre-bench-")
	}
	if err != nil {
		return nil, err
	}
	if o.cpuprofile != "" {
		if err := os.MkdirAll(o.cpuprofile, 0o755); err != nil {
			return nil, err
		}
	}
	e.logf("bench: data in %s", e.dir)
	e.findTools(ctx)
	return e, nil
}

func (e *env) close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	if !e.o.keep && e.o.tmp == "" {
		os.RemoveAll(e.dir)
	} else {
		e.logf("bench: data kept in %s", e.dir)
	}
}

func (e *env) logf(format string, args ...any) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	fmt.Fprintf(e.out, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// tools describes the external baselines, for the report.
func (e *env) tools() []string {
	var out []string
	if e.age != "" {
		out = append(out, "age: "+version(e.age, "--version"))
	} else {
		out = append(out, "age: "+e.ageWhy)
	}
	if e.rclone != "" {
		v := version(e.rclone, "version")
		v, _, _ = strings.Cut(v, "\n")
		out = append(out, "rclone: "+v)
	} else {
		out = append(out, "rclone: "+e.rcWhy)
	}
	return out
}

func version(bin string, arg string) string {
	b, err := exec.Command(bin, arg).CombinedOutput()
	if err != nil {
		return bin + " (version unknown)"
	}
	return bin + " " + strings.TrimSpace(string(b))
}

// findTools finds age and rclone on PATH or in GOBIN, else builds them
// with go install (rclone only in a full run: it takes minutes).
func (e *env) findTools(ctx context.Context) {
	e.gobin = goEnv("GOBIN")
	if e.gobin == "" {
		e.gobin = filepath.Join(goEnv("GOPATH"), "bin")
	}
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		p := filepath.Join(e.gobin, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	// Only the file and folder cases compare with age and rclone: a run of
	// other cases builds neither (several engineers each building rclone at
	// once kept this machine at load 50 for half an hour).
	if len(e.o.cases) > 0 && !slices.ContainsFunc(e.o.cases, func(c string) bool {
		return slices.Contains([]string{"put", "get", "sync", "list"}, c)
	}) {
		e.ageWhy = "not looked for: no case of this run compares with it"
		e.rcWhy = e.ageWhy
		return
	}
	install := func(name, pkg string) (string, error) {
		e.logf("bench: %s not found: go install %s (into %s)", name, pkg, e.gobin)
		start := time.Now()
		cmd := exec.CommandContext(ctx, "go", "install", pkg)
		cmd.Dir = os.TempDir() // outside the module: go.mod is not touched
		cmd.Env = append(os.Environ(), "GOBIN="+e.gobin, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go install %s: %v: %s", pkg, err, strings.TrimSpace(string(out)))
		}
		e.logf("bench: built %s in %v", name, time.Since(start).Round(time.Second))
		return filepath.Join(e.gobin, name), nil
	}
	if e.age = find("age"); e.age == "" {
		p, err := install("age", "filippo.io/age/cmd/...@v1.3.2")
		if err != nil {
			e.ageWhy = "not available (" + err.Error() + "): baseline skipped"
		}
		e.age = p
	}
	if e.rclone = find("rclone"); e.rclone == "" {
		if e.o.quick {
			e.rcWhy = "not built in -quick mode (baseline skipped; go install github.com/rclone/rclone@latest takes about 5 minutes here, a full run builds it)"
			return
		}
		p, err := install("rclone", "github.com/rclone/rclone@latest")
		if err != nil {
			e.rcWhy = "not available (" + err.Error() + "): baseline skipped"
		}
		e.rclone = p
	}
}

func goEnv(key string) string {
	b, err := exec.Command("go", "env", key).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// coffreBinary builds the coffre command (once) into the data directory.
func (e *env) coffreBinary(ctx context.Context) (string, error) {
	if e.coffre != "" {
		return e.coffre, nil
	}
	bin := filepath.Join(e.dir, "bin")
	if err := harness.Build(ctx, bin, nil, "./cmd/coffre"); err != nil {
		return "", fmt.Errorf("building coffre: %w", err)
	}
	e.coffre = filepath.Join(bin, "coffre")
	return e.coffre, nil
}

// measure runs fn, the operation a case times, under CPU profiles of this
// process and of the server when -cpuprofile is set.
func (e *env) measure(name string, srv *serverProc, fn func() error) (time.Duration, error) {
	stop := func() {}
	if e.o.cpuprofile != "" {
		f, err := os.Create(filepath.Join(e.o.cpuprofile, name+"-client.pprof"))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			startTrace(f.Name())
			stop = func() { pprof.StopCPUProfile(); f.Close(); stopTrace() }
		} else if f != nil {
			f.Close()
		}
		if srv != nil {
			if _, err := srv.ask("profile " + filepath.Join(e.o.cpuprofile, name+"-server.pprof")); err == nil {
				prev := stop
				stop = func() { prev(); srv.ask("endprofile") }
			}
		}
	}
	cpu, srvCPU := processCPU(), srv.cpu()
	start := time.Now()
	err := fn()
	d := time.Since(start)
	e.logf("   %s: %.1f ms, client CPU %.1f ms (this process, user + system), server CPU %.1f ms (its threads' run time)",
		name, ms(d), ms(processCPU()-cpu), ms(srv.cpu()-srvCPU))
	stop()
	return d, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// processCPU is the CPU time this process used so far (user + system):
// the client's, in a measured call whose server is a child process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
