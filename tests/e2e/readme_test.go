package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/harness"
	"github.com/coffre/coffre/tests/testbackend"
)

// TestREADMEWalkThrough runs the README's walk-through as printed, so that
// it can't drift from what coffre does (issue 12): the ```sh blocks of "A
// walk-through by hand", up to the marker that ends it, in order, each in
// bash with the variables of the blocks before it. The first block builds
// the binaries; the test puts the ones the harness built on PATH instead.
// A block whose first line says "at the same time" runs alongside the block
// before it, as two people on the phone: the test reads the code each side
// shows ("Your code: XXXX") and types it on the other side, and confirms
// on the greeter's side with y, as the person would after reading the name.
func TestREADMEWalkThrough(t *testing.T) {
	t.Parallel()
	testbackend.RequireEmbedded(t, "the walk-through starts its own server on the embedded store")
	blocks := readmeWalkThrough(t)
	if len(blocks) < 5 || !strings.Contains(blocks[0], "go build") {
		t.Fatalf("README walk-through: want the build block then the steps, got %d blocks", len(blocks))
	}
	bin := filepath.Dir(harness.Coffre(t))
	harness.CoffreServer(t)
	work := t.TempDir()
	state := filepath.Join(work, "state.sh")
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(harness.CleanEnv(),
		"PATH="+bin+":"+os.Getenv("PATH"),
		"TMPDIR="+work,
		"COFFRE_PASSPHRASE=walk-through passphrase")
	// The server the walk-through starts is stopped by its last block; if a
	// block fails before that, here.
	t.Cleanup(func() {
		exec.Command("bash", "-c", `. "$1"; [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null; true`, "bash", state).Run()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	steps := blocks[1:]
	for i := 0; i < len(steps); i++ {
		if i+1 < len(steps) && sameTime(steps[i+1]) {
			enrolBlocks(ctx, t, env, state, steps[i], steps[i+1])
			i++
			continue
		}
		out, err := runBlock(ctx, env, state, steps[i], nil, nil).wait()
		if err != nil {
			t.Fatalf("README block failed: %v\n%s\n--- output:\n%s", err, steps[i], out)
		}
		t.Logf("README block:\n%s\n--- output:\n%s", steps[i], out)
	}
}

// readmeWalkThrough returns the ```sh blocks of the README's walk-through.
func readmeWalkThrough(t *testing.T) []string {
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## A walk-through by hand\n")
	end := strings.Index(text, "<!-- The walk-through that CI runs ends here")
	if start < 0 || end < start {
		t.Fatal("README: no walk-through section, or no end marker")
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text[start:end], -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

func sameTime(block string) bool {
	first, _, _ := strings.Cut(block, "\n")
	return strings.HasPrefix(first, "#") && strings.Contains(first, "at the same time")
}

// block is one README block running in bash.
type block struct {
	cmd  *exec.Cmd
	out  *harness.SyncBuffer
	done chan error
}

// runBlock starts a block in bash, with the variables and the working
// folder the blocks before it left (every assignment is exported, set -a,
// and saved with the folder when it ends), and
// stops at the first failing command (set -e), as a careful reader would.
// With lines, each line of its output is sent there too.
func runBlock(ctx context.Context, env []string, state, text string, stdin io.Reader, lines chan<- string) *block {
	script := fmt.Sprintf("set -euo pipefail -a\n. %[1]q\n%[2]s\nexport -p > %[1]q\nprintf 'cd %%q\\n' \"$PWD\" >> %[1]q\n", state, text)
	b := &block{cmd: exec.CommandContext(ctx, "bash", "-c", script), out: &harness.SyncBuffer{}, done: make(chan error, 1)}
	b.cmd.Env, b.cmd.SysProcAttr = env, harness.NoTerminal()
	b.cmd.Stdin = stdin
	pr, pw := io.Pipe()
	b.cmd.Stdout, b.cmd.Stderr = pw, pw
	go func() {
		r := bufio.NewReader(pr)
		for {
			line, err := r.ReadString('\n')
			b.out.WriteString(line)
			if lines != nil && line != "" {
				lines <- line
			}
			if err != nil {
				if lines != nil {
					close(lines)
				}
				return
			}
		}
	}()
	if err := b.cmd.Start(); err != nil {
		b.done <- err
		pw.Close()
		return b
	}
	go func() {
		err := b.cmd.Wait()
		// A server the block left running holds no pipe of ours: its
		// output goes to a file in the README.
		pw.Close()
		b.done <- err
	}()
	return b
}

func (b *block) wait() (string, error) {
	err := <-b.done
	time.Sleep(10 * time.Millisecond) // the reader drains the pipe
	return b.out.String(), err
}

var codeLine = regexp.MustCompile(`Your code: (\S+)`)

// enrolBlocks runs a greeter's block and a claimer's block at the same
// time and plays the two people reading their codes to each other.
func enrolBlocks(ctx context.Context, t *testing.T, env []string, state, greeter, claimer string) {
	t.Helper()
	type side struct {
		in    *os.File
		lines chan string
		b     *block
	}
	start := func(text string) *side {
		// An *os.File, so that the process reads it directly: Wait would
		// otherwise wait for its copy, until this side closes it.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		s := &side{in: w, lines: make(chan string, 100)}
		s.b = runBlock(ctx, env, state, text, r, s.lines)
		r.Close()
		return s
	}
	g, c := start(greeter), start(claimer)
	codes := make(chan [2]string, 2) // side (g or c), code
	var wg sync.WaitGroup
	watch := func(name string, s *side) {
		defer wg.Done()
		for line := range s.lines {
			if m := codeLine.FindStringSubmatch(line); m != nil {
				codes <- [2]string{name, m[1]}
			}
		}
	}
	wg.Add(2)
	go watch("g", g)
	go watch("c", c)
	got := map[string]string{}
	timeout := time.After(harness.EnrolmentTimeout)
	for len(got) < 2 {
		select {
		case x := <-codes:
			got[x[0]] = x[1]
		case <-timeout:
			t.Fatalf("README enrolment: no codes shown after %v:\n--- greeter:\n%s\n--- claimer:\n%s", harness.EnrolmentTimeout, g.b.out, c.b.out)
		}
	}
	// The greeter then confirms who is joining, as the person would after
	// reading the name (the prompt has no newline to wait for).
	io.WriteString(g.in, got["c"]+"\ny\n")
	io.WriteString(c.in, got["g"]+"\n")
	gout, gerr := g.b.wait()
	cout, cerr := c.b.wait()
	g.in.Close()
	c.in.Close()
	wg.Wait()
	if gerr != nil || cerr != nil {
		t.Fatalf("README enrolment failed (greeter %v, claimer %v):\n%s\n--- greeter:\n%s\n%s\n--- claimer:\n%s", gerr, cerr, greeter, gout, claimer, cout)
	}
	t.Logf("README enrolment:\n%s%s\n%s%s", greeter, gout, claimer, cout)
}
