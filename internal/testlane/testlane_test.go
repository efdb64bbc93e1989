package testlane

import (
	"errors"
	"strings"
	"testing"
)

func TestServicesRequired(t *testing.T) {
	for _, c := range []struct {
		ci, backend string
		want        bool
	}{
		{"", "", false},
		{"false", "", false},
		{"0", "", false},
		{"true", "", true},
		{"1", "", true},
		{"", "embedded", true},
		{"", "postgres+s3", true},
	} {
		t.Setenv("CI", c.ci)
		t.Setenv(BackendEnv, c.backend)
		if got := ServicesRequired(); got != c.want {
			t.Errorf("CI=%q %s=%q: ServicesRequired() = %v, want %v", c.ci, BackendEnv, c.backend, got, c.want)
		}
	}
}

func TestSkipReasonIsOneLine(t *testing.T) {
	err := errors.New("initdb and postgres are not installed: apt-get install -y postgresql\nlog line 1\nlog line 2")
	r := SkipReason("PostgreSQL", err)
	if strings.Contains(r, "\n") || !strings.Contains(r, "apt-get install -y postgresql") || !strings.Contains(r, BackendEnv) {
		t.Errorf("SkipReason = %q: want one line saying what to install and how to make it a failure", r)
	}
}

// The short lane skips even where the services are required: -short asks
// for them not to start.
func TestShortLaneSkipsInCI(t *testing.T) {
	t.Setenv("CI", "true")
	var skipped bool
	t.Run("needs PostgreSQL", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Unavailable(t, "PostgreSQL", ErrShort)
		t.Error("Unavailable returned")
	})
	if !skipped {
		t.Errorf("a test whose service is not started with -short did not skip")
	}
}
