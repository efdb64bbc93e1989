package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// answers returns an ask function that gives these answers in turn and
// records the prompts.
func answers(prompts *[]string, a ...string) func(string) ([]byte, error) {
	return func(prompt string) ([]byte, error) {
		*prompts = append(*prompts, prompt)
		if len(a) == 0 {
			return nil, errors.New("no more answers")
		}
		next := a[0]
		a = a[1:]
		return []byte(next), nil
	}
}

// A too short passphrase is refused before it is asked a second time.
func TestNewPassphraseRulesBeforeConfirmation(t *testing.T) {
	var prompts []string
	var tty bytes.Buffer
	p, err := askNewPassphrase(answers(&prompts, "short", "correct horse", "correct horse"), &tty)
	if err != nil || string(p) != "correct horse" {
		t.Fatalf("got %q, %v", p, err)
	}
	want := []string{"Passphrase: ", "Passphrase: ", "Passphrase again: "}
	if strings.Join(prompts, "|") != strings.Join(want, "|") {
		t.Errorf("prompts %q, want %q", prompts, want)
	}
	if !strings.Contains(tty.String(), "at least 8 characters; try again") {
		t.Errorf("terminal shows %q", tty.String())
	}
}

// A mismatch asks again instead of ending the command; three failures end it.
func TestNewPassphraseMismatchAsksAgain(t *testing.T) {
	var prompts []string
	var tty bytes.Buffer
	p, err := askNewPassphrase(answers(&prompts, "correct horse", "correct hose", "correct horse", "correct horse"), &tty)
	if err != nil || string(p) != "correct horse" {
		t.Fatalf("got %q, %v", p, err)
	}
	if !strings.Contains(tty.String(), "the two passphrases differ; try again") {
		t.Errorf("terminal shows %q", tty.String())
	}

	prompts = nil
	_, err = askNewPassphrase(answers(&prompts, "aaaaaaaa", "b", "aaaaaaaa", "c", "aaaaaaaa", "d", "x", "x"), &tty)
	if err == nil || !strings.Contains(err.Error(), "differ (3 tries)") {
		t.Errorf("after three mismatches: %v", err)
	}
	if len(prompts) != 6 {
		t.Errorf("asked %d times, want 6", len(prompts))
	}
}
