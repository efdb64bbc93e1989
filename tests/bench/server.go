package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/coffre/coffre/link"
	"github.com/coffre/coffre/server"
	"github.com/coffre/coffre/server/store"
	"github.com/coffre/coffre/server/store/blockdir"
	"github.com/coffre/coffre/server/store/boltstore"
)

// The server child: this program started again with COFFRE_BENCH_SERVER
// set to a data directory. It runs what `coffre-server run` runs (TLS
// certificate made in the directory, bbolt store coffre.db, block directory
// blocks/, server.New, Serve on 127.0.0.1), plus a counter of calls by
// method, and answers the driver on standard input, one line each:
//
//	org NAME          → "ok LINK" (a bootstrap link, as `coffre-server org create`)
//	calls             → "ok {method: count}"
//	vaultbytes O V    → "ok N" (bytes of a vault's stored log)
//	vaultblocks O V   → "ok COUNT BYTES" (a vault's stored blocks)
//	profile FILE      → "ok" (starts a CPU profile)
//	endprofile        → "ok"
//	quit (or EOF)     → stops gracefully and exits
//
// It prints "ready ADDRESS PIN" when it serves.
//
// Started with arguments ("run --data DIR …"), the child is instead
// `coffre-server run` itself, with those flags (runChild, load.go), and
// answers the same commands but calls, vaultbytes and vaultblocks.
func serveChild(dir string) int {
	fail := func(err error) int {
		fmt.Printf("err %v\n", err)
		fmt.Fprintln(os.Stderr, "bench server:", err)
		return 1
	}
	cert, pin, _, err := server.LoadOrCreateTLS(dir, "", "")
	if err != nil {
		return fail(err)
	}
	st, err := boltstore.Open(filepath.Join(dir, "coffre.db"), boltstore.Options{})
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	blocks, err := blockdir.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		return fail(err)
	}
	defer blocks.Close()
	blocks.UseSmallBlocks(st) // as coffre-server run does on the embedded store
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	addr := lis.Addr().String()

	var mu sync.Mutex
	calls := map[string]int64{}
	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
		mu.Lock()
		calls[m]++
		mu.Unlock()
		return handler(ctx, req)
	}
	srv := server.New(server.Config{
		Store: st, Blocks: blocks, PublicAddress: addr, Pin: pin,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, nil)), // as coffre-server run
		UnaryInterceptors: []grpc.UnaryServerInterceptor{count},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis, cert) }()
	fmt.Printf("ready %s %s\n", addr, pin)

	return control{
		org: func(name string) (string, error) {
			l, err := server.NewOrganisation(ctx, st, name, addr, pin)
			if err != nil {
				return "", err
			}
			return l.String(), nil
		},
		calls: func() (string, error) {
			mu.Lock()
			defer mu.Unlock()
			b, err := json.Marshal(calls)
			return string(b), err
		},
		vaultBytes: func(org, vault string) (int64, error) {
			var total int64
			for from := uint64(1); ; {
				entries, err := st.ReadVaultLog(ctx, org, vault, from, 1000)
				if err != nil || len(entries) == 0 {
					return total, err
				}
				for _, en := range entries {
					total += int64(len(en.Data))
				}
				from = entries[len(entries)-1].Position + 1
			}
		},
		vaultBlocks: func(org, vault string) (n, total int64, err error) {
			err = blocks.ListBlocks(ctx, org, vault, func(b store.BlockInfo) error {
				n++
				total += b.Size
				return nil
			})
			return n, total, err
		},
		stop: func() error {
			cancel()
			return <-served
		},
	}.loop()
}

// control is a server child's side of the exchange with the driver (see
// serveChild). A nil org, calls or vaultBytes refuses that command; stop
// stops serving, gracefully.
type control struct {
	org        func(name string) (link string, err error)
	calls      func() (jsonCounts string, err error)
	vaultBytes func(org, vault string) (int64, error)
	// vaultBlocks counts a vault's stored blocks and their bytes.
	vaultBlocks func(org, vault string) (n, total int64, err error)
	stop        func() error
}

// loop answers commands on standard input until quit (exit code 0 if
// the server stopped cleanly) or EOF (the driver is gone: stop, exit 0).
func (c control) loop() int {
	in := bufio.NewScanner(os.Stdin)
	var prof *os.File
	answer := func(s string, err error) {
		if err != nil {
			fmt.Printf("err %v\n", strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		fmt.Printf("ok %s\n", s)
	}
	unsupported := func(cmd string) (string, error) {
		return "", fmt.Errorf("%s: not available from this server child", cmd)
	}
	for in.Scan() {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(in.Text()), " ")
		switch cmd {
		case "org":
			if c.org == nil {
				answer(unsupported(cmd))
				continue
			}
			answer(c.org(arg))
		case "calls":
			if c.calls == nil {
				answer(unsupported(cmd))
				continue
			}
			answer(c.calls())
		case "vaultbytes":
			if c.vaultBytes == nil {
				answer(unsupported(cmd))
				continue
			}
			org, vault, _ := strings.Cut(arg, " ")
			n, err := c.vaultBytes(org, vault)
			answer(fmt.Sprint(n), err)
		case "vaultblocks":
			if c.vaultBlocks == nil {
				answer(unsupported(cmd))
				continue
			}
			org, vault, _ := strings.Cut(arg, " ")
			n, total, err := c.vaultBlocks(org, vault)
			answer(fmt.Sprint(n, " ", total), err)
		case "profile":
			f, err := os.Create(arg)
			if err == nil {
				if err = pprof.StartCPUProfile(f); err != nil {
					f.Close()
				}
			}
			if err != nil {
				answer("", err)
				continue
			}
			prof = f
			startTrace(arg)
			fmt.Println("ok")
		case "endprofile":
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
				prof = nil
				stopTrace()
			}
			fmt.Println("ok")
		case "quit":
			if err := c.stop(); err != nil {
				fmt.Fprintln(os.Stderr, "bench server:", err)
				return 1
			}
			return 0
		default:
			fmt.Printf("err unknown command %q\n", cmd)
		}
	}
	c.stop()
	return 0
}

// cpu is the run time of the server's threads so far (Linux:
// /proc/PID/task/*/schedstat, in nanoseconds); 0 where it can't be read.
func (s *serverProc) cpu() time.Duration {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", s.cmd.Process.Pid))
	var sum time.Duration
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var ns int64
		if _, err := fmt.Sscan(string(b), &ns); err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum
}

// serverProc is the driver's handle on a server child.
type serverProc struct {
	Dir, Addr, Pin string

	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	mu  sync.Mutex // one exchange at a time
	log string     // its standard error

	stopped bool
	maxRSS  int64 // bytes, after Stop
}

// startServer starts a server child on a new data directory.
func (e *env) startServer(ctx context.Context, name string) (*serverProc, error) {
	return e.startChild(ctx, name, false, nil)
}

// startCoffreServer starts a child that is `coffre-server run --data DIR
// --listen 127.0.0.1:0 FLAGS…` (its command, in this program: runChild),
// on a new data directory. The environment's COFFRE_SERVER_* variables
// are not passed on: the flags alone say what the server uses.
func (e *env) startCoffreServer(ctx context.Context, name string, flags []string) (*serverProc, error) {
	return e.startChild(ctx, name, true, flags)
}

func (e *env) startChild(ctx context.Context, name string, run bool, flags []string) (*serverProc, error) {
	dir := filepath.Join(e.dir, "server-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(e.dir, "server-"+name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), serverEnv+"="+dir)
	if run {
		cmd.Args = append([]string{self, "run", "--data", dir, "--listen", "127.0.0.1:0"}, flags...)
		cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "COFFRE_SERVER_") })
	}
	cmd.Stderr = logFile
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{Dir: dir, cmd: cmd, in: in, out: bufio.NewReader(outPipe), log: logPath}
	type ready struct {
		line string
		err  error
	}
	ch := make(chan ready, 1)
	go func() {
		l, err := s.out.ReadString('\n')
		ch <- ready{l, err}
	}()
	select {
	case r := <-ch:
		f := strings.Fields(r.line)
		if r.err != nil || len(f) != 3 || f[0] != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("server did not start: %q %v (log: %s)", r.line, r.err, tail(logPath))
		}
		s.Addr, s.Pin = f[1], f[2]
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("server did not start in 30 s (log: %s)", tail(logPath))
	case <-ctx.Done():
		cmd.Process.Kill()
		cmd.Wait()
		return nil, ctx.Err()
	}
	e.logf("   server %s: pid %d on %s", name, cmd.Process.Pid, s.Addr)
	return s, nil
}

func (s *serverProc) Pid() int { return s.cmd.Process.Pid }

// ask sends one command and returns the answer after "ok ".
func (s *serverProc) ask(line string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return "", errors.New("server stopped")
	}
	if _, err := fmt.Fprintln(s.in, line); err != nil {
		return "", fmt.Errorf("server: %w (log: %s)", err, tail(s.log))
	}
	ans, err := s.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("server: %w (log: %s)", err, tail(s.log))
	}
	ans = strings.TrimSpace(ans)
	if rest, ok := strings.CutPrefix(ans, "ok"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("server: %s", ans)
}

// NewOrganisation creates an organisation and returns its bootstrap link.
func (s *serverProc) NewOrganisation(name string) (link.Link, error) {
	ans, err := s.ask("org " + name)
	if err != nil {
		return link.Link{}, err
	}
	return link.Parse(ans)
}

// Calls returns how many calls the server received, by method.
func (s *serverProc) Calls() (map[string]int64, error) {
	ans, err := s.ask("calls")
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	return m, json.Unmarshal([]byte(ans), &m)
}

// VaultBytes is the size of a vault's stored log.
func (s *serverProc) VaultBytes(orgID, vaultID string) (int64, error) {
	ans, err := s.ask("vaultbytes " + orgID + " " + vaultID)
	if err != nil {
		return 0, err
	}
	var n int64
	_, err = fmt.Sscan(ans, &n)
	return n, err
}

// VaultBlocks is the count and the bytes of a vault's stored blocks.
func (s *serverProc) VaultBlocks(orgID, vaultID string) (n, total int64, err error) {
	ans, err := s.ask("vaultblocks " + orgID + " " + vaultID)
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscan(ans, &n, &total)
	return n, total, err
}

// RSS is the server's resident size now (bytes).
func (s *serverProc) RSS() int64 { return procStatus(s.Pid(), "VmRSS:") }

// Stop stops the server gracefully and records its peak resident size.
func (s *serverProc) Stop() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	// The peak of the server's own memory: VmHWM, read while it runs.
	// (getrusage's ru_maxrss of a child started by os/exec is no good: Go
	// starts children with vfork, and Linux records the parent's resident
	// size as the child's high-water mark at exec.)
	s.maxRSS = procStatus(s.Pid(), "VmHWM:")
	fmt.Fprintln(s.in, "quit")
	s.in.Close()
	s.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		err = fmt.Errorf("server did not stop in 20 s; killed")
		<-done
	}
	if err != nil {
		return fmt.Errorf("server: %w (log: %s)", err, tail(s.log))
	}
	return nil
}

// MaxRSS is the server's peak resident size over its life (after Stop).
func (s *serverProc) MaxRSS() int64 { return s.maxRSS }

// Memory is the server's resident size now, split as the kernel counts
// it (bytes, -1 if the process is gone).
func (s *serverProc) Memory() residentSplit { return residentNow(s.Pid()) }

// residentSplit is a process's resident size and its two parts that
// matter here: anonymous memory (the Go heap, stacks) and mapped files
// (the server's: bbolt's coffre.db, mapped whole and paged in as read,
// which the kernel can drop under pressure; its binary's text).
type residentSplit struct{ rss, anon, file int64 }

func residentNow(pid int) residentSplit {
	v := procStatusKeys(pid, "VmRSS:", "RssAnon:", "RssFile:")
	return residentSplit{v[0], v[1], v[2]}
}

// peak keeps the largest of each part over the samples, each on its own
// (the three peaks need not be at the same moment).
func (m residentSplit) peak(o residentSplit) residentSplit {
	return residentSplit{max(m.rss, o.rss), max(m.anon, o.anon), max(m.file, o.file)}
}

// procStatus reads one "Vm…:" line of /proc/PID/status, in bytes (-1 if
// the process is gone).
func procStatus(pid int, key string) int64 { return procStatusKeys(pid, key)[0] }

// procStatusKeys reads lines of /proc/PID/status in one read, in bytes
// (each -1 if the process is gone or has no such line).
func procStatusKeys(pid int, keys ...string) []int64 {
	out := make([]int64, len(keys))
	for i := range out {
		out[i] = -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for l := range strings.Lines(string(b)) {
		for i, key := range keys {
			if rest, ok := strings.CutPrefix(l, key); ok {
				var kb int64
				fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
				out[i] = kb << 10
			}
		}
	}
	return out
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if len(s) > 1500 {
		s = "…" + s[len(s)-1500:]
	}
	if s == "" {
		return "empty"
	}
	return s
}
