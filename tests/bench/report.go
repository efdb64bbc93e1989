package main

import (
	"fmt"
	"slices"
	"strings"
)

// Row is one line of the table: a case's figure against one baseline.
// A case with several baselines (put: the disk, rclone, one core, age)
// has one row per baseline.
type Row struct {
	Case     string `json:"case"`
	Title    string `json:"title"`
	Figure   string `json:"figure"`
	Baseline string `json:"baseline"`
	Ratio    string `json:"ratio"`
	Goal     string `json:"goal"`
	// Met is "yes", "no", "n/a" (baseline skipped) or "—" (no goal: for
	// information).
	Met  string `json:"met"`
	Note string `json:"note,omitempty"`
	// Err is set when the case failed to run.
	Err string `json:"error,omitempty"`
}

func (r Row) line() string {
	if r.Err != "" {
		return fmt.Sprintf("%s: ERROR %s", r.Title, r.Err)
	}
	s := fmt.Sprintf("%s: %s | %s | %s | %s | %s", r.Title, r.Figure, r.Baseline, r.Ratio, r.Goal, r.Met)
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// Report is one run.
type Report struct {
	Date      string   `json:"date"`
	CPU       string   `json:"cpu"`
	Cores     int      `json:"cores"`
	Go        string   `json:"go"`
	Command   string   `json:"command"`
	Commit    string   `json:"commit"`
	Quick     bool     `json:"quick"`
	Load      string   `json:"load_before"`
	LoadAfter string   `json:"load_after"`
	Tools     []string `json:"tools"`
	Rows      []Row    `json:"rows"`
}

func (r *Report) errors() int {
	n := 0
	for _, row := range r.Rows {
		if row.Err != "" {
			n++
		}
	}
	return n
}

// markdown renders the report: what ran where, then the table, then the
// notes of each row.
func (r *Report) markdown() string {
	var b strings.Builder
	mode := "full"
	if r.Quick {
		mode = "quick (-quick: small sizes; checks the suite runs, not the speed)"
	}
	fmt.Fprintf(&b, "- date: %s\n- CPU: %s, %d cores (shared machine; load average %s before, %s after)\n- Go: %s\n- code: %s\n- command: `%s` (%s)\n",
		r.Date, r.CPU, r.Cores, r.Load, r.LoadAfter, r.Go, r.Commit, r.Command, mode)
	for _, t := range r.Tools {
		fmt.Fprintf(&b, "- %s\n", t)
	}
	b.WriteString("\n| case | figure | baseline (same run) | ratio | goal | met |\n| --- | --- | --- | --- | --- | --- |\n")
	var notes []string
	for _, row := range r.Rows {
		if row.Err != "" {
			fmt.Fprintf(&b, "| %s | **ERROR**: %s | | | | error |\n", cell(row.Title), cell(row.Err))
			continue
		}
		title := cell(row.Title)
		if row.Note != "" {
			notes = append(notes, row.Note)
			title += fmt.Sprintf(" [%d]", len(notes))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", title, cell(row.Figure), cell(row.Baseline), cell(row.Ratio), cell(row.Goal), metCell(row.Met))
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, n)
		}
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

func metCell(m string) string {
	switch m {
	case "yes":
		return "**yes**"
	case "no":
		return "**no**"
	}
	return m
}

// metIf turns a condition into the met column.
func metIf(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// Units.

func mbps(bytes int64, seconds float64) float64 { return float64(bytes) / 1e6 / seconds }

func fmtMBps(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }

func fmtRatio(v float64) string {
	switch {
	case v >= 10:
		return fmt.Sprintf("%.0f×", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f×", v)
	}
	return fmt.Sprintf("%.3f×", v)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func fmtMB(n int64) string {
	if n < 10e6 {
		return fmt.Sprintf("%.0f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}

func fmtCount(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// percentile of sorted-or-not durations in milliseconds (nearest rank).
func percentile(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
