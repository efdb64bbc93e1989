package harness

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Exchange changes what the people type during an enrolment. Each func gets
// the code the other side shows and returns what is typed; nil types it
// faithfully.
type Exchange struct {
	GreeterTypes func(claimerCode string) string
	ClaimerTypes func(greeterCode string) string
}

// EnrolResult is what both sides of an enrolment did, with the code each
// showed.
type EnrolResult struct {
	Greeter, Claimer         Result
	GreeterCode, ClaimerCode string
}

// Enrol runs 'coffre GREETARGS' on greeter and 'coffre invitation claim LINK
// CLAIMARGS' on claimer at the same time, reads the code each shows ("Your
// code: XXXX"), and types the other side's code into each one's standard
// input, as two people on the phone would. It does not judge the outcome.
func Enrol(t testing.TB, greeter *Device, greetArgs []string, claimer *Device, link string, claimArgs []string, x Exchange) EnrolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), EnrolmentTimeout)
	defer cancel()
	g := greeter.startInteractive(ctx, greetArgs...)
	c := claimer.startInteractive(ctx, append([]string{"invitation", "claim", link}, claimArgs...)...)
	var res EnrolResult
	res.GreeterCode, res.ClaimerCode = g.waitCode(ctx), c.waitCode(ctx)
	if res.GreeterCode == "" || res.ClaimerCode == "" {
		cancel() // one side stopped (or timed out) before showing its code
	} else {
		greeterTypes, claimerTypes := res.ClaimerCode, res.GreeterCode
		if x.GreeterTypes != nil {
			greeterTypes = x.GreeterTypes(res.ClaimerCode)
		}
		if x.ClaimerTypes != nil {
			claimerTypes = x.ClaimerTypes(res.GreeterCode)
		}
		g.answer(greeterTypes)
		c.answer(claimerTypes)
	}
	res.Greeter, res.Claimer = g.wait(), c.wait()
	if ctx.Err() == context.DeadlineExceeded {
		t.Errorf("enrolment timed out after %v:\n%s\n%s", EnrolmentTimeout, res.Greeter, res.Claimer)
	}
	t.Logf("enrolment: greeter exit %d in %v, claimer exit %d in %v", res.Greeter.Code, res.Greeter.Elapsed.Round(time.Millisecond), res.Claimer.Code, res.Claimer.Elapsed.Round(time.Millisecond))
	return res
}

// interactive is a command whose standard input the test writes as it goes.
type interactive struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout SyncBuffer
	stderr SyncBuffer
	code   chan string   // the code it shows, once
	done   chan struct{} // closed when it exited
	res    Result
	start  time.Time
}

var codeLine = regexp.MustCompile(`Your code: (\S+)`)

func (d *Device) startInteractive(ctx context.Context, args ...string) *interactive {
	d.t.Helper()
	full, env := d.argsAndEnv(args)
	p := &interactive{code: make(chan string, 1), done: make(chan struct{}), start: time.Now()}
	p.res.Args = append([]string{"coffre"}, full...)
	p.cmd = exec.CommandContext(ctx, d.bin, full...)
	p.cmd.Env = env
	p.cmd.WaitDelay = time.Second
	p.cmd.SysProcAttr = NoTerminal()
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		d.t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(stdout)
		sent := false
		for {
			line, err := r.ReadString('\n')
			p.stdout.WriteString(line)
			if m := codeLine.FindStringSubmatch(line); m != nil && !sent {
				p.code <- m[1]
				sent = true
			}
			if err != nil {
				break
			}
		}
		p.res.Code = ExitCode(p.cmd.Wait())
		p.res.Elapsed = time.Since(p.start)
		p.res.Stdout, p.res.Stderr = p.stdout.String(), p.stderr.String()
		close(p.done)
	}()
	return p
}

// waitCode returns the code the process shows, or "" if it exits (or the
// context ends) first.
func (p *interactive) waitCode(ctx context.Context) string {
	select {
	case c := <-p.code:
		return c
	case <-p.done:
		select {
		case c := <-p.code:
			return c
		default:
			return ""
		}
	case <-ctx.Done():
		return ""
	}
}

func (p *interactive) answer(line string) {
	io.WriteString(p.stdin, line+"\n")
	p.stdin.Close()
}

func (p *interactive) wait() Result {
	<-p.done
	return p.res
}

// EnrolUser invites email with profile from admin, and enrols newcomer
// (named name) with it; both sides must succeed. It returns the claimer's
// user id and the invitation link.
func EnrolUser(t testing.TB, admin *Device, email, profile string, newcomer *Device, name string) (userID, link string) {
	t.Helper()
	id, link := admin.InviteUser(email, profile)
	res := Enrol(t, admin, []string{"user", "greet", "--yes", id}, newcomer, link, []string{"--name", name}, Exchange{})
	WantEnrolled(t, res)
	if !strings.Contains(res.Greeter.Stdout, fmt.Sprintf("enrolled %s <%s> as user ", name, email)) {
		t.Fatalf("the greeter did not say whom it enrolled:\n%s", res.Greeter)
	}
	return claimedUser(t, res.Claimer), link
}

// EnrolDevice adds newDevice to the user of existing, labelled label; both
// sides must succeed. It returns the user id the new device says it
// belongs to.
func EnrolDevice(t testing.TB, existing, newDevice *Device, label string) (userID string) {
	t.Helper()
	id, link := existing.InviteDevice()
	res := Enrol(t, existing, []string{"device", "greet", "--yes", id}, newDevice, link, []string{"--device-label", label}, Exchange{})
	WantEnrolled(t, res)
	if !strings.Contains(res.Greeter.Stdout, "enrolled device ") || !strings.Contains(res.Greeter.Stdout, "("+label+")") {
		t.Fatalf("the greeter did not say which device it enrolled:\n%s", res.Greeter)
	}
	return claimedUser(t, res.Claimer)
}

// WantEnrolled checks that both sides of an enrolment succeeded, showing
// different codes.
func WantEnrolled(t testing.TB, res EnrolResult) {
	t.Helper()
	if !res.Greeter.OK() || !res.Claimer.OK() {
		t.Fatalf("enrolment failed:\n%s\n%s", res.Greeter, res.Claimer)
	}
	if res.GreeterCode == res.ClaimerCode {
		t.Errorf("both sides show the same code %q: the codes must differ by side", res.GreeterCode)
	}
}

var claimedLine = regexp.MustCompile(`enrolled in "[^"]*": user ([0-9a-f]+), device ([0-9a-f]+)`)

func claimedUser(t testing.TB, r Result) string {
	t.Helper()
	m := claimedLine.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("the claimer did not say it was enrolled: %s", r)
	}
	return m[1]
}
