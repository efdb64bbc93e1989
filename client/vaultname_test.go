package client

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckVaultName: the names a person can't tell apart from a path, or
// can't see, are refused with ErrVaultName; ordinary names pass.
func TestCheckVaultName(t *testing.T) {
	for _, name := range []string{"cardiology", "Cardiologie pédiatrique", "RCP 2026 – dossiers", "a", strings.Repeat("é", MaxVaultName)} {
		if err := CheckVaultName(name); err != nil {
			t.Errorf("CheckVaultName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "   ", "\t", "a:b", "a/b", "cardio:/", "tab\there", "nl\n", "nul\x00", "esc\x1b[31m", " padded", "padded ", "\xff\xfe", strings.Repeat("a", MaxVaultName+1)} {
		if err := CheckVaultName(name); !errors.Is(err, ErrVaultName) {
			t.Errorf("CheckVaultName(%q) = %v, want ErrVaultName", name, err)
		}
	}
}

// TestClosestName: a wrong case finds the name; a typo within two edits
// too; something else finds nothing.
func TestClosestName(t *testing.T) {
	mine := []VaultInfo{{Name: "cardiology"}, {Name: "radiology"}, {Name: "ORL"}}
	for ref, want := range map[string]string{
		"Cardiology": "cardiology", "CARDIOLOGY": "cardiology", "cardiolgy": "cardiology",
		"radiolgoy": "radiology", "orl": "ORL", "ORX": "ORL",
		"dermatology": "", "xyz": "", "cardio": "",
	} {
		got, ok := closestName(ref, mine)
		if got != want || ok != (want != "") {
			t.Errorf("closestName(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
}
