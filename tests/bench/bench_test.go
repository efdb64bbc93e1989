package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/internal/testlane"
	"github.com/coffre/coffre/server/store/pgstore/pgtest"
	"github.com/coffre/coffre/server/store/s3blocks/s3test"
	"github.com/coffre/coffre/tests/harness"
)

// TestQuickSuiteRuns runs the documented command in -quick mode, as CI
// does: it checks that the suite runs and that its table has every case
// of BENCH.md with no case in error, not the speed (the machine is shared
// and CI's sizes are small). The suite is built and run as its own
// program, without the race detector the tests may run under.
//
// A baseline may be missing only with its reason in the table: rclone is
// not built in -quick mode (about five minutes to build); it is used when
// already installed.
func TestQuickSuiteRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("the benchmark smoke run takes minutes: it runs without -short (scripts/test)")
	}
	// Some cases run on PostgreSQL and MinIO.
	if err := pgtest.Installed(); err != nil {
		testlane.Unavailable(t, "PostgreSQL", err)
	}
	if _, err := s3test.Binary(); err != nil {
		testlane.Unavailable(t, "MinIO", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bench")
	if err := harness.Build(ctx, dir, nil, "./tests/bench"); err != nil {
		t.Fatalf("building the suite: %v", err)
	}
	results := filepath.Join(dir, "results.json")
	cmd := exec.CommandContext(ctx, bin, "-quick", "-json", results, "-tmp", filepath.Join(dir, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("go run ./tests/bench -quick: %v in %v\n%s", err, time.Since(start).Round(time.Second), stdout.String())
	if err != nil {
		t.Fatalf("the suite failed: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, row := range r.Rows {
		seen[row.Case]++
		if row.Err != "" {
			t.Errorf("case %s: %s", row.Case, row.Err)
		}
		switch row.Met {
		case "yes", "no", "—":
		case "n/a": // a skipped baseline says why
			if !strings.Contains(row.Baseline, "not built in -quick mode") && !strings.Contains(row.Baseline, "not available") {
				t.Errorf("case %s: baseline skipped without a reason: %+v", row.Case, row)
			}
		default:
			t.Errorf("case %s: met column %q", row.Case, row.Met)
		}
		if row.Figure == "" {
			t.Errorf("case %s: no figure: %+v", row.Case, row)
		}
	}
	for _, c := range allCases {
		if seen[c.name] == 0 {
			t.Errorf("case %s is missing from the table", c.name)
		}
	}
	if !strings.Contains(stdout.String(), "| case | figure | baseline (same run) | ratio | goal | met |") {
		t.Errorf("no table printed")
	}
}
