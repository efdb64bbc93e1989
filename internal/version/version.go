// Package version says which build of coffre is running, for 'coffre
// version' and '--version' on both binaries: what a person pastes into a
// bug report, and what an administrator compares across devices.
package version

import (
	"fmt"
	"runtime/debug"
)

// String is "PROGRAM VERSION (commit REVISION[, modified], TIME)": the
// module version the binary was built at ("devel" for a build from a work
// tree, which Go reports as "(devel)") and the version-control commit Go
// recorded at build time, when there is one.
func String(program string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return program + " devel (no build information)"
	}
	return format(program, info)
}

func format(program string, info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, when string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return fmt.Sprintf("%s %s (commit unknown, %s)", program, v, info.GoVersion)
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		rev += ", modified"
	}
	if when != "" {
		rev += ", " + when
	}
	return fmt.Sprintf("%s %s (commit %s, %s)", program, v, rev, info.GoVersion)
}
