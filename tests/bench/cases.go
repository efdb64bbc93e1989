package main

import (
	"context"
	"slices"
)

// benchCase is one line of BENCH.md's table (it may print several rows:
// one per baseline).
type benchCase struct {
	name  string
	title string
	run   func(ctx context.Context, e *env) ([]Row, error)
}

// allCases, in the order of BENCH.md. put and get share a server and a
// file (get reads back what put wrote), so do sync and list; each group
// runs what it needs even when only one of its cases is selected.
var allCases = slices.Concat([]benchCase{
	{"put", "put one file to a vault (loopback server, TLS, durable store)", casePut},
	{"get", "get it back, server cache cold", caseGet},
	{"sync", "sync a folder of small files into an empty vault", caseSync},
	{"list", "list a folder on a fresh device", caseList},
	{"events", "a change on device A visible on device B", caseEvents},
	{"unshare", "unshare a member of a large vault (rotation included)", caseUnshare},
	{"firstsync", "a new device's first sync in a large organisation", caseFirstSync},
}, concurrentCases(), []benchCase{ // concurrent, then concurrent-postgres …
	{"memory", "client memory while putting a large file", caseMemory},
})

func caseNames() []string {
	var out []string
	for _, c := range allCases {
		out = append(out, c.name)
	}
	return out
}
