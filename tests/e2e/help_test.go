package e2e

import (
	"strings"
	"testing"

	"github.com/coffre/coffre/tests/testbackend"
)

// TestHelpTeaches checks that --help tells a newcomer, or a script writer,
// what they need: how to give the passphrase without a terminal, what the
// codes of an enrolment are for, how to bring one's own TLS certificate.
func TestHelpTeaches(t *testing.T) {
	t.Parallel()
	testbackend.RequireEmbedded(t, "help text is the same whatever the store")
	for _, c := range []struct {
		bin  string
		args []string
		want []string
	}{
		{coffreBin, []string{"--help"}, []string{"COFFRE_PASSPHRASE", "--passphrase-file", "coffre org bootstrap", "coffre invitation claim"}},
		{coffreBin, []string{"invitation", "claim", "--help"}, []string{"code", "don't match", "standard input", "COFFRE_PASSPHRASE"}},
		{coffreBin, []string{"user", "greet", "--help"}, []string{"code", "standard input", "--yes"}},
		{coffreBin, []string{"device", "invite", "--help"}, []string{"coffre invitation claim", "coffre device greet"}},
		{coffreBin, []string{"user", "list", "--help"}, []string{"--json", "--all"}},
		{serverBin, []string{"--help"}, []string{"coffre-server run --data", "org create"}},
		{serverBin, []string{"run", "--help"}, []string{"--tls-cert", "--tls-key", "--listen", "SIGTERM"}},
		{serverBin, []string{"backup", "--help"}, []string{"--out", "coffre.db"}},
	} {
		r := run(t, cleanEnv(), "", c.bin, c.args...)
		if !r.OK() || r.Stderr != "" {
			t.Errorf("want help on stdout and success: %s", r)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.Stdout, w) {
				t.Errorf("%s %s does not mention %q:\n%s", c.bin, strings.Join(c.args, " "), w, r.Stdout)
			}
		}
	}
}
