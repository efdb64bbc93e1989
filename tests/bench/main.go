// Command bench is coffre's benchmark suite (BENCH.md): it starts a real
// server on loopback (server.New on the embedded store, bbolt plus a block
// directory with durable writes, gRPC over TLS), runs every case of
// BENCH.md's table against it, measures each case's baseline in the same
// run, and prints one table: case, figure, baseline, ratio, goal, met.
//
//	go run ./tests/bench            the full run (about 10 to 15 minutes; for people)
//	go run ./tests/bench -quick     small sizes: checks that the suite runs (CI)
//	go run ./tests/bench -cases put,get -cpuprofile /tmp/prof
//
// The server runs in a child process (this program started again with
// COFFRE_BENCH_SERVER set), built from the same packages as
// `coffre-server run`, so that its memory is its own and it can be
// profiled. The load cases (concurrent, concurrent-postgres) run the
// server's own command instead, `coffre-server run` with each backend's
// flags, PostgreSQL in a throwaway cluster (load.go). Clients are the
// client library in this process, except where a client's memory is
// measured: there the real `coffre` binary runs.
//
// Baselines: one core sealing and hashing the same bytes, `age` and
// `rclone` (crypt remote on local disk), built with `go install` into
// $(go env GOPATH)/bin when absent (rclone is not built in -quick mode:
// about five minutes here), a plain file written with fdatasync and read
// back cold, and the crypto loops BENCH.md names.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/coffre/coffre/crypto"
	"github.com/coffre/coffre/tests/harness"
)

// serverEnv makes this program the benchmark's server (see server.go).
const serverEnv = "COFFRE_BENCH_SERVER"

func main() {
	if dir := os.Getenv(serverEnv); dir != "" {
		if len(os.Args) > 1 {
			os.Exit(runChild(dir, os.Args[1:])) // coffre-server run FLAGS… (load.go)
		}
		os.Exit(serveChild(dir))
	}
	os.Exit(benchMain(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	quick      bool
	cases      []string // empty: all
	out        string   // markdown report
	jsonOut    string   // rows as JSON (the test reads it)
	cpuprofile string   // directory for CPU profiles of the measured operations
	tmp        string   // where data goes (default: a new directory under $TMPDIR)
	keep       bool
	timeout    time.Duration
	clients    int           // the load cases' clients (0: the size's)
	loadFor    time.Duration // how long they write (0: the size's)
}

func benchMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var cases string
	fs.BoolVar(&o.quick, "quick", false, "small sizes, so that the whole suite runs in a couple of minutes (CI: checks the suite runs, not the speed)")
	fs.StringVar(&cases, "cases", "", "comma-separated cases to run (default all): "+strings.Join(caseNames(), ","))
	fs.StringVar(&o.out, "out", "", "also write the report (date, CPU, command, table) as markdown to this file")
	fs.StringVar(&o.jsonOut, "json", "", "also write the rows as JSON to this file")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write CPU profiles (client: this process; server: the child) of each measured operation into this directory")
	fs.StringVar(&o.tmp, "tmp", "", "directory for the data (default: a new one under $TMPDIR, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the data directory")
	fs.DurationVar(&o.timeout, "timeout", 0, "stop everything after this long (default 40m, 8m with -quick)")
	fs.IntVar(&o.clients, "clients", 0, "concurrent clients of the load cases (default 100, 10 with -quick)")
	fs.DurationVar(&o.loadFor, "loadfor", 0, "how long the load cases' clients write (default 60s, 5s with -quick)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./tests/bench [-quick] [-cases a,b] [-out FILE] [-json FILE] [-cpuprofile DIR]\n\ncases:\n")
		for _, c := range allCases {
			fmt.Fprintf(stderr, "  %-20s %s\n", c.name, c.title)
		}
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cases != "" {
		for _, c := range strings.Split(cases, ",") {
			c = strings.TrimSpace(c)
			if !slices.Contains(caseNames(), c) {
				fmt.Fprintf(stderr, "bench: unknown case %q (cases: %s)\n", c, strings.Join(caseNames(), ","))
				return 2
			}
			o.cases = append(o.cases, c)
		}
	}
	if o.timeout == 0 {
		o.timeout = 40 * time.Minute
		if o.quick {
			o.timeout = 8 * time.Minute
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	r, err := run(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	report := r.markdown()
	fmt.Fprint(stdout, report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	if r.errors() > 0 {
		fmt.Fprintf(stderr, "bench: %d case(s) failed to run\n", r.errors())
		return 1
	}
	return 0
}

// run sets up the environment and runs the selected cases, each in turn.
func run(ctx context.Context, o options, log io.Writer) (*Report, error) {
	// Key files written by the suite use a cheap scrypt cost, so that
	// unlocking is not what is measured (the memory case says otherwise
	// where it matters).
	crypto.ScryptWorkFactor = 10
	e, err := newEnv(ctx, o, log)
	if err != nil {
		return nil, err
	}
	defer e.close()
	r := &Report{
		Date: time.Now().Format("2006-01-02 15:04 MST"), CPU: cpuModel(), Cores: runtime.NumCPU(),
		Go: runtime.Version(), Command: commandLine(), Quick: o.quick, Load: loadAverage(),
		Tools: e.tools(), Commit: gitCommit(),
	}
	for _, c := range allCases {
		if len(o.cases) > 0 && !slices.Contains(o.cases, c.name) {
			continue
		}
		if ctx.Err() != nil {
			r.Rows = append(r.Rows, Row{Case: c.name, Title: c.title, Err: "not run: " + ctx.Err().Error()})
			continue
		}
		e.logf("== %s: %s", c.name, c.title)
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, caseTimeout(o))
		rows, err := c.run(cctx, e)
		cancel()
		for i := range rows {
			rows[i].Case, rows[i].Title = c.name, firstNonEmpty(rows[i].Title, c.title)
		}
		if err != nil {
			rows = append(rows, Row{Case: c.name, Title: c.title, Err: err.Error()})
		}
		for _, row := range rows {
			e.logf("   %s", row.line())
		}
		e.logf("   (%s in %v)", c.name, time.Since(start).Round(time.Millisecond))
		r.Rows = append(r.Rows, rows...)
	}
	r.LoadAfter = loadAverage()
	return r, nil
}

// caseTimeout bounds each case (the largest, the 10 GiB put, takes about
// three minutes here). A load sized by -clients or -loadfor gets the full
// run's bound even with -quick: making 100 clients' devices alone can take
// minutes on a loaded machine.
func caseTimeout(o options) time.Duration {
	if o.quick && o.clients == 0 && o.loadFor == 0 {
		return 3 * time.Minute
	}
	return 15 * time.Minute
}

// gitCommit names the code measured: the commit, and whether the working
// tree differs from it.
func gitCommit() string {
	root, err := harness.ModuleRoot()
	if err != nil {
		return "unknown"
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	c := strings.TrimSpace(string(head))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " with uncommitted changes"
	}
	return c
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func commandLine() string {
	args := os.Args[1:]
	return strings.TrimSpace("go run ./tests/bench " + strings.Join(args, " "))
}

// cpuModel is the processor's model name, as lscpu shows it.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for l := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
