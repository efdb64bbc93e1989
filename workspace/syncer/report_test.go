package syncer

import "testing"

// TestCopyLabel: the name a conflict copy carries comes from the
// organisation log, where anyone named themselves: it can't make the copy
// land in another folder, nor give it a name another system refuses.
func TestCopyLabel(t *testing.T) {
	for in, want := range map[string]string{
		"Alice Martin":         "Alice Martin",
		"Élodie Durand laptop": "Élodie Durand laptop",
		"../../etc/passwd":     "-..-etc-passwd",
		`Dr. Who: "A\B"*?<>|`:  `Dr. Who- -A-B------`,
		"line\nbreak\x7f":      "line-break-",
		"trailing dot.":        "trailing dot",
		" . ":                  "unknown",
		"":                     "unknown",
		"a name far too long to be part of every conflict copy's name": "a name far too long to be part of every",
	} {
		got := copyLabel(in)
		if got != want {
			t.Errorf("copyLabel(%q) = %q, want %q", in, got, want)
		}
		if err := portable(got); err != nil {
			t.Errorf("copyLabel(%q) = %q: %v", in, got, err)
		}
	}
}
