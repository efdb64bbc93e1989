package cli

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coffre/coffre/client"
	"github.com/coffre/coffre/vaultlog"
	"github.com/coffre/coffre/workspace"
)

// TestProgressHints: an enrolment's progress says how the other person
// does what it waits for; the library's text names no command.
func TestProgressHints(t *testing.T) {
	for msg, want := range map[string]string{
		client.WaitingForClaimer:                          "waiting for the invited person to open the link (they run 'coffre invitation claim LINK')",
		"waiting up to 10m0s " + client.WaitingForGreeter: "waiting up to 10m0s for the greeter to start (they run 'coffre user greet' or 'coffre device greet')",
		"codes match; waiting for the greeter to confirm": "codes match; waiting for the greeter to confirm",
	} {
		if strings.Contains(msg, "coffre ") {
			t.Errorf("the library's progress names a command: %q", msg)
		}
		if got := progress(msg); got != want {
			t.Errorf("progress(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestHintsKeepTheMessages: the library's errors name no command; what the
// person reads after "coffre:" is the same as when they did.
func TestHintsKeepTheMessages(t *testing.T) {
	cause := errors.New("cannot reach the server")
	for _, c := range []struct {
		err  error
		want string
	}{
		{client.ErrNoDevice, "no device in this data directory: run 'coffre org bootstrap LINK' or 'coffre invitation claim LINK' first"},
		{fmt.Errorf("opening: %w", client.ErrLocked), "opening: locked: give the passphrase again (coffre unlock)"},
		{fmt.Errorf("%w: %w", client.ErrFirstSync, cause), "bootstrapped, but the first sync failed (run 'coffre status' to retry): cannot reach the server"},
		{fmt.Errorf("%w: %w", client.ErrAnchorFailed, cause), "the vault's certificate is published, but anchoring its log failed (run 'coffre ls' on it to retry): cannot reach the server"},
		{client.ErrNotFresh, "nothing was written: the server did not confirm that this device's view is current (try again; if it persists, compare `coffre status` with another member)"},
		{fmt.Errorf("vault x: %w", client.ErrServerMisbehaved), "vault x: nothing was written: the server signed a head that contradicts the verified log (kept as proof: run coffre audit --verify and tell your administrator)"},
		{cause, "cannot reach the server"},
		{fmt.Errorf("/scan.pdf has versions 1 to 3, not v9: %w", workspace.ErrNoVersion), "/scan.pdf has versions 1 to 3, not v9: no such version (coffre history lists them)"},
		{fmt.Errorf("put: %w", vaultlog.ErrRotationPending), "put: a member left this vault: its key must be rotated first (an owner or manager runs 'coffre vault rotate')"},
		{fmt.Errorf(`2 vaults are named "cardio": %w`, client.ErrAmbiguousVault), `2 vaults are named "cardio": name it by its id (coffre vault list shows the ids)`},
		{fmt.Errorf("2 pending user invitations match: %w", client.ErrAmbiguousInvitation), "2 pending user invitations match: name one by its id (coffre invitation list shows them)"},
	} {
		if got := message(c.err); got != c.want {
			t.Errorf("message(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	// A sync's last error is kept as text in its status file.
	if got := hinted("vault x: locked: give the passphrase again"); got != "vault x: locked: give the passphrase again (coffre unlock)" {
		t.Errorf("hinted status error: %q", got)
	}
	if got := hinted(message(client.ErrLocked)); got != "locked: give the passphrase again (coffre unlock)" {
		t.Errorf("a hint added twice: %q", got)
	}
	// A message that merely contains a sentinel's words gets no hint.
	if got := message(errors.New("no device in this data directory, says the server")); got != "no device in this data directory, says the server" {
		t.Errorf("hint on an unrelated error: %q", got)
	}
}

// TestLibrariesNameNoCommand: the libraries' texts (errors, progress) say
// what happened; what to run next is added here, in hints.go. A string
// literal outside the two command lines that names a coffre command fails.
func TestLibrariesNameNoCommand(t *testing.T) {
	var names []string
	for _, c := range NewRootCommand().Commands() {
		names = append(names, regexp.QuoteMeta(c.Name()))
	}
	command := regexp.MustCompile(`\bcoffre (` + strings.Join(names, "|") + `)\b`)
	notCommands := map[string]bool{
		`"coffre vault key canary"`:                       true, // a label sealed with each vault key
		`"another coffre sync is running on this folder"`: true, // a running process, not what to type
		`"coffre app folders v1"`:                         true, // a label sealed with the app's folder list
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "client/cli", "server/cli", "cmd", "tests", "proto", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if rel == filepath.Join("client", "app", "websec.go") {
			return nil // the web interface's own pages and answers to a browser: an interface, like the command line
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && command.MatchString(lit.Value) && !notCommands[lit.Value] {
				t.Errorf("%s: %s names a command: say what happened, and add the command in client/cli/hints.go", rel, lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
