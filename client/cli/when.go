package cli

import (
	"fmt"
	"strings"
	"time"
)

// Dates and times on the command line. A person types the date on their
// wall calendar: a bare date or date-time is in the device's zone ($TZ, else
// the system's), and the command prints back the instant it took, with its
// zone, so that nobody reads a vault as of the wrong hour.

// timeLayout is how times are printed: to the minute, with the zone.
const timeLayout = "2006-01-02 15:04 MST"

// secondsLayout is timeLayout to the second, for histories and audits.
const secondsLayout = "2006-01-02 15:04:05 MST"

// localLayouts are the forms read in the device's zone, most precise
// first; dateOnly marks the bare date.
var localLayouts = []string{
	"2006-01-02 15:04:05", "2006-01-02T15:04:05",
	"2006-01-02 15:04", "2006-01-02T15:04",
	dateOnly,
}

const dateOnly = "2006-01-02"

// whenForms is what the error says to type.
const whenForms = "want a date (2026-12-05), a date and time in this device's zone (2026-12-05 08:03) or RFC 3339 (2026-12-05T08:03:00+01:00)"

// parseWhen reads a date or date-time typed on the command line, in zone
// loc unless it carries its own offset. A bare date is the start of that
// day; with endOfDay, the end of it (the start of the next day: a grant
// --until 2026-12-31 lasts all of the 31st).
func parseWhen(s string, loc *time.Location, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range localLayouts {
		t, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			continue
		}
		if layout == dateOnly && endOfDay {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: %s", s, whenForms)
}

// isDateOnly reports whether s is a bare date.
func isDateOnly(s string) bool {
	_, err := time.Parse(dateOnly, strings.TrimSpace(s))
	return err == nil
}

// parseAt reads an --at flag (empty: now).
func parseAt(at string) (time.Time, error) {
	if at == "" {
		return time.Time{}, nil
	}
	t, err := parseWhen(at, time.Local, false)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %w", err)
	}
	return t, nil
}

// parseUntil reads an --until flag: a bare date means the end of that day.
func parseUntil(until string) (time.Time, error) {
	t, err := parseWhen(until, time.Local, true)
	if err != nil {
		return time.Time{}, fmt.Errorf("--until %w", err)
	}
	return t, nil
}

// shownTime prints an instant in the device's zone, with the zone.
func shownTime(t time.Time) string { return t.Local().Format(timeLayout) }

// readAt reads an --at flag and says on standard error which instant it
// means (standard output stays what scripts parse): what the commands
// that read the past share, with or without the app.
func readAt(con *console, at string) (time.Time, error) {
	t, err := parseAt(at)
	if err != nil {
		return time.Time{}, err
	}
	if !t.IsZero() {
		fmt.Fprintf(con.err, "as of %s\n", t.Local().Format(secondsLayout))
	}
	return t, nil
}
