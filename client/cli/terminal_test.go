package cli

import (
	"strings"
	"testing"
	"time"
)

// TestShownEscapesWhatCouldSpoofAPrompt: text someone else chose reaches
// the terminal with its control, bidi and invisible characters escaped
// (SECURITY.md A26).
func TestShownEscapesWhatCouldSpoofAPrompt(t *testing.T) {
	for in, want := range map[string]string{
		"Alice Martin": "Alice Martin",
		"Zoë 李 👩\u200d⚕️ دانش\u200cجو":                "Zoë 李 👩\u200d⚕️ دانش\u200cجو", // joiners stay
		"Eve\x1b[2K\rAlice":                           `Eve\x1b[2K\x0dAlice`,
		"Eve\u202egpj.exe":                            `Eve\u202egpj.exe`,
		"a\u200eb\u200fc\u202ad\u2066e\u2069f\u061cg": `a\u200eb\u200fc\u202ad\u2066e\u2069f\u061cg`,
		"x\u0085y\u009bz\x7f":                         `x\u0085y\u009bz\x7f`,
		"line\u2028para\u2029end\n":                   `line\u2028para\u2029end\x0a`,
		"bad\xffutf8":                                 `bad\xffutf8`,
		"tag\U000E0041":                               `tag\U000e0041`,
	} {
		if got := shown(in); got != want {
			t.Errorf("shown(%q) = %q, want %q", in, got, want)
		}
		for _, r := range shown(in) {
			if r != '\u200c' && r != '\u200d' && hidden(r) {
				t.Errorf("shown(%q) still holds %U", in, r)
			}
		}
	}
}

// TestPositiveDurations: a duration flag of zero or less is refused with one
// line, never taken for the default (issue 10 #12).
func TestPositiveDurations(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		err := positive("expires", d)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "--expires") {
			t.Errorf("positive(%s) = %v, want a one-line error naming --expires", d, err)
		}
	}
	if err := positive("expires", time.Hour); err != nil {
		t.Errorf("positive(1h) = %v", err)
	}
}
