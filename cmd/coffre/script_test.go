package main

// The command line's golden scripts: testdata/*.txtar are testscript files
// (github.com/rogpeppe/go-internal/testscript) that run coffre and
// coffre-server as a person or a script would, and compare what they print
// with what the files hold: help, refusals of bad input, one-line errors,
// exit statuses, and a session against a real server.
//
// The commands are this test binary itself, started under the names coffre
// and coffre-server (testscript.Main), so no 'go build' is needed, and the
// key files they write use a low scrypt work factor (client.TestWorkFactorEnv,
// which only a test binary reads). Regenerate the golden output after a
// deliberate change of wording with 'go test ./cmd/coffre -update'.

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/coffre/coffre/client"
	servercli "github.com/coffre/coffre/server/cli"
)

var update = flag.Bool("update", false, "rewrite the golden output in testdata/*.txtar")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"coffre":        func() { noTerminal(); main() },
		"coffre-server": func() { noTerminal(); os.Exit(servercli.Execute()) },
	})
}

// noTerminal leaves the controlling terminal, as in a script or a CI job:
// a command that would ask for a passphrase on /dev/tty says what to set
// instead, even when the tests run from a terminal.
func noTerminal() { syscall.Setsid() }

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			e.Setenv(client.TestWorkFactorEnv, "10")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":   cmdExits,
			"capture": cmdCapture,
			"server":  cmdServer,
		},
	})
}

// cmdExits runs a command that must end with a given exit status:
//
//	exits 3 coffre user list
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits STATUS PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad status %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("exits: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// cmdCapture sets a variable to the first match of a regular expression in
// the last command's standard output, or to its first group:
//
//	capture LINK 'coffre://\S+'
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture NAME REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile("stdout"))
	if m == nil {
		ts.Fatalf("capture: no match for %s in stdout", args[1])
	}
	ts.Setenv(args[0], m[len(m)-1])
}

// serverTimeout bounds a server's start and stop.
const serverTimeout = 30 * time.Second

// scriptServer is the coffre-server of one script. What it prints goes to
// DIR.log beside its data directory, for the script to read and for
// failures to show.
type scriptServer struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it has exited
}

func (s *scriptServer) String() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

func (s *scriptServer) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

var (
	serversMu sync.Mutex
	servers   = map[*testscript.TestScript]*scriptServer{}
)

// cmdServer starts coffre-server on a data directory and a loopback
// address (a free port unless given), and returns once it says it is
// listening (its operator socket is ready then, for 'coffre-server org
// create'); $SERVER_ADDR is set to its address. Or it stops the server
// with SIGTERM, which must end it cleanly:
//
//	server start DIR [ADDR]
//	server stop
//
// A server still running when the script ends is killed.
func cmdServer(ts *testscript.TestScript, neg bool, args []string) {
	usage := func() { ts.Fatalf("usage: server start DIR [ADDR] | server stop") }
	if neg || len(args) == 0 {
		usage()
	}
	serversMu.Lock()
	s := servers[ts]
	serversMu.Unlock()
	running := s != nil && s.running()
	switch {
	case args[0] == "start" && (len(args) == 2 || len(args) == 3):
		if running {
			ts.Fatalf("server: already running")
		}
		addr := "127.0.0.1:0"
		if len(args) == 3 {
			addr = args[2]
		}
		s = startServer(ts, ts.MkAbs(args[1]), addr)
		serversMu.Lock()
		servers[ts] = s
		serversMu.Unlock()
		ts.Defer(func() {
			serversMu.Lock()
			delete(servers, ts)
			serversMu.Unlock()
			s.cmd.Process.Kill()
			<-s.done
		})
	case args[0] == "stop" && len(args) == 1:
		if !running {
			ts.Fatalf("server: not running")
		}
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(serverTimeout):
			ts.Fatalf("server: still running %v after SIGTERM:\n%s", serverTimeout, s)
		}
		if !s.cmd.ProcessState.Success() {
			ts.Fatalf("server: %v on SIGTERM, want a clean stop:\n%s", s.cmd.ProcessState, s)
		}
	default:
		usage()
	}
}

func startServer(ts *testscript.TestScript, dir, addr string) *scriptServer {
	bin, err := exec.LookPath("coffre-server") // testscript.Main put it in PATH
	ts.Check(err)
	s := &scriptServer{log: dir + ".log", done: make(chan struct{})}
	log, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	ts.Check(err)
	s.cmd = exec.Command(bin, "run", "--data", dir, "--listen", addr)
	// Nothing of the caller's coffre settings (a database URL…).
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COFFRE_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Stderr = log
	stdout, err := s.cmd.StdoutPipe()
	ts.Check(err)
	if err := s.cmd.Start(); err != nil {
		log.Close()
		ts.Fatalf("server: %v", err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer log.Close()
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			log.WriteString(line)
			if addr, ok := strings.CutPrefix(line, "coffre-server listening on "); ok {
				listening <- strings.Fields(addr)[0]
			}
			if err != nil {
				break
			}
		}
		s.cmd.Wait()
	}()
	select {
	case addr := <-listening:
		ts.Setenv("SERVER_ADDR", addr)
		return s
	case <-s.done:
		ts.Fatalf("server: exited before listening (%v):\n%s", s.cmd.ProcessState, s)
	case <-time.After(serverTimeout):
		s.cmd.Process.Kill()
		<-s.done
		ts.Fatalf("server: not listening after %v:\n%s", serverTimeout, s)
	}
	return nil
}
