package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/coffre/coffre/client"
)

// console reads answers from the terminal or, for scripts and tests, from
// standard input line by line.
type console struct {
	stdin io.Reader     // as it is, for data (put -)
	in    *bufio.Reader // for answers
	out   io.Writer
	err   io.Writer
	// info is for what the person did not ask for but may like to see:
	// progress, what was done, what to run next. --quiet discards it;
	// requested output (a listing, a link) goes to out, errors to err.
	info  io.Writer
	quiet bool
	tty   bool
}

func newConsole(cmd *cobra.Command) *console {
	in := cmd.InOrStdin()
	tty := false
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	c := &console{stdin: in, in: bufio.NewReader(in), out: cmd.OutOrStdout(), err: cmd.ErrOrStderr(), info: cmd.OutOrStdout(), tty: tty}
	if f := cmd.Flag("quiet"); f != nil && f.Value.String() == "true" {
		c.info, c.quiet = io.Discard, true
	}
	return c
}

func (c *console) line(ctx context.Context, prompt string) (string, error) {
	fmt.Fprint(c.out, prompt)
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := c.in.ReadString('\n')
		if err == io.EOF && s != "" {
			err = nil
		}
		ch <- result{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		if !c.tty {
			fmt.Fprintln(c.out) // the answer was not echoed: end the prompt's line
		}
		if r.err == io.EOF {
			return "", errors.New("no answer: standard input ended")
		}
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// passphrase returns the passphrase: from --passphrase-file, else
// COFFRE_PASSPHRASE, else the terminal (asked twice when confirm is set).
func (g *globalOptions) passphrase(c *console, confirm bool) ([]byte, error) {
	if g.passphraseFile != "" {
		b, err := os.ReadFile(g.passphraseFile)
		if err != nil {
			return nil, fmt.Errorf("reading passphrase file: %w", err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		return []byte(strings.TrimRight(first, "\r")), nil
	}
	if p, ok := os.LookupEnv("COFFRE_PASSPHRASE"); ok {
		return []byte(p), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, errors.New("no terminal to ask the passphrase on: set COFFRE_PASSPHRASE or use --passphrase-file")
	}
	defer tty.Close()
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprint(tty, prompt)
		p, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return p, err
	}
	if !confirm {
		return ask("Passphrase: ")
	}
	return askNewPassphrase(ask, tty)
}

// newPassphraseTries is how many times a new passphrase is asked before
// the command gives up.
const newPassphraseTries = 3

// askNewPassphrase asks a new key file's passphrase: the rules are checked
// before it is asked again, and a passphrase too short or typed differently
// the second time is asked again (up to newPassphraseTries times) instead
// of ending the command, which would make the person start over.
func askNewPassphrase(ask func(prompt string) ([]byte, error), tty io.Writer) ([]byte, error) {
	var last error
	for range newPassphraseTries {
		p, err := ask("Passphrase: ")
		if err != nil {
			return nil, err
		}
		if err := client.CheckNewPassphrase(p); err != nil {
			fmt.Fprintf(tty, "%v; try again\n", err)
			last = err
			continue
		}
		again, err := ask("Passphrase again: ")
		if err != nil {
			return nil, err
		}
		if string(again) == string(p) {
			return p, nil
		}
		last = errors.New("the two passphrases differ")
		fmt.Fprintf(tty, "%v; try again\n", last)
	}
	return nil, fmt.Errorf("%w (%d tries)", last, newPassphraseTries)
}

// prompter runs the people's side of an enrolment on the console.
type prompter struct {
	c   *console
	yes bool
}

func (p *prompter) ShowCode(code string) {
	fmt.Fprintf(p.c.out, "Your code: %s\nRead it to the other person, and ask for theirs.\n", code)
}

func (p *prompter) PeerCode(ctx context.Context) (string, error) {
	return p.c.line(ctx, "Code the other person reads to you: ")
}

func (p *prompter) ConfirmClaimer(ctx context.Context, who client.Claimer) (bool, error) {
	desc := fmt.Sprintf("%s <%s>, device %q", shown(who.Name), shown(who.Email), who.DeviceLabel)
	if who.Profile != "" {
		desc = fmt.Sprintf("%s <%s> as %s, device %q", shown(who.Name), shown(who.Email), shown(who.Profile), who.DeviceLabel)
	}
	if p.yes {
		fmt.Fprintf(p.c.out, "Enrolling %s\n", desc)
		return true, nil
	}
	a, err := p.c.line(ctx, fmt.Sprintf("Enrol %s? [y/N] ", desc))
	return strings.EqualFold(a, "y") || strings.EqualFold(a, "yes"), err
}

func (p *prompter) Progress(msg string) {
	if !p.c.quiet {
		fmt.Fprintln(p.c.err, shown(progress(msg)))
	}
}

// positive refuses a duration flag of zero or less, which would otherwise
// be taken for its default or make no sense (issue 10 #12).
func positive(flag string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("--%s must be a positive duration such as 48h (got %s)", flag, d)
	}
	return nil
}

// shown returns text that someone else chose (a name, an email, a device
// label, a vault or file name, a server's message) as it may be printed:
// control characters (C0 and C1, ESC and CR included), bidirectional and
// other invisible formatting marks, line separators and invalid UTF-8 are
// escaped (\x1b, \u202e), so that such text can't redraw the terminal or
// disguise a prompt such as "Enrol …? [y/N]" (SECURITY.md A26).
func shown(s string) string {
	clean := true
	for _, r := range s {
		if hidden(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i]) // a byte that is not UTF-8
		case !hidden(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return b.String()
}

// hidden reports whether r must not reach a terminal as it is: controls,
// format characters (bidi marks and isolates, zero-width and tag
// characters) other than the joiners that scripts and emoji need, and line
// and paragraph separators.
func hidden(r rune) bool {
	if r == '\u200c' || r == '\u200d' {
		return false
	}
	return r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// printJSON writes v as indented JSON.
func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // links keep their '&' for scripts
	return enc.Encode(v)
}
