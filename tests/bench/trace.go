package main

import (
	"os"
	"runtime/trace"
	"strings"
)

// traced is the execution trace being written, if any: with
// COFFRE_BENCH_TRACE=1, each CPU profile of -cpuprofile has an execution
// trace beside it (FILE.trace), to see where a process waits, which a
// CPU profile does not show (issue 15: the put's idle cores).
var traced *os.File

func startTrace(profile string) {
	if os.Getenv("COFFRE_BENCH_TRACE") == "" || traced != nil {
		return
	}
	f, err := os.Create(strings.TrimSuffix(profile, ".pprof") + ".trace")
	if err != nil {
		return
	}
	if trace.Start(f) != nil {
		f.Close()
		return
	}
	traced = f
}

func stopTrace() {
	if traced == nil {
		return
	}
	trace.Stop()
	traced.Close()
	traced = nil
}
