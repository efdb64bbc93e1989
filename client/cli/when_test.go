package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/certificate"
	"github.com/coffre/coffre/client"
)

// TestParseWhen: the forms a person types, read in their zone unless they
// carry an offset; a bare date is the start of the day for --at and the
// end of it for --until, across a change of daylight saving time too.
func TestParseWhen(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		in       string
		endOfDay bool
		want     time.Time
	}{
		{"2026-12-05", false, utc("2026-12-04T23:00:00Z")},
		{"2026-12-05", true, utc("2026-12-05T23:00:00Z")},
		{" 2026-12-31 ", true, utc("2026-12-31T23:00:00Z")},
		{"2026-07-14", false, utc("2026-07-13T22:00:00Z")},
		{"2026-03-28", true, utc("2026-03-28T23:00:00Z")}, // the next day starts in summer time
		{"2026-12-05 08:03", false, utc("2026-12-05T07:03:00Z")},
		{"2026-12-05 08:03", true, utc("2026-12-05T07:03:00Z")}, // a time is taken as it is
		{"2026-12-05T08:03", false, utc("2026-12-05T07:03:00Z")},
		{"2026-12-05 08:03:07", false, utc("2026-12-05T07:03:07Z")},
		{"2026-07-05 08:03", false, utc("2026-07-05T06:03:00Z")},
		{"2026-12-05T08:03:00+01:00", false, utc("2026-12-05T07:03:00Z")},
		{"2026-12-05T08:03:00Z", true, utc("2026-12-05T08:03:00Z")},
		{"2026-12-05 08:03:00-05:00", false, utc("2026-12-05T13:03:00Z")},
		{"2026-12-05T08:03:00.5Z", false, utc("2026-12-05T08:03:00Z").Add(500 * time.Millisecond)},
	} {
		got, err := parseWhen(c.in, paris, c.endOfDay)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseWhen(%q, endOfDay %v) = %v, %v; want %v", c.in, c.endOfDay, got.UTC(), err, c.want)
		}
	}
	for _, in := range []string{"", "yesterday", "05/12/2026", "2026-13-01", "2026-12-05 8h03", "2026-12-05T08:03:00+25:00", "1733385600"} {
		_, err := parseWhen(in, paris, false)
		if err == nil || !strings.Contains(err.Error(), "want a date (2026-12-05)") || strings.Contains(err.Error(), "\n") {
			t.Errorf("parseWhen(%q): %v, want a one-line error saying what to type", in, err)
		}
	}
}

// TestMemberUntil: vault list shows a grant's end in this device's zone,
// with the zone, as the share command said it.
func TestMemberUntil(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = paris
	m := client.Member{Email: "bob@lilas.example", Role: certificate.RoleReader, Until: time.Date(2030, 12, 31, 23, 0, 0, 0, time.UTC)}
	if got, want := memberText(m), "bob@lilas.example (reader until 2031-01-01 00:00 CET)"; got != want {
		t.Errorf("memberText = %q, want %q", got, want)
	}
	m.Until = time.Time{}
	if got, want := memberText(m), "bob@lilas.example (reader)"; got != want {
		t.Errorf("memberText without an end = %q, want %q", got, want)
	}
}
