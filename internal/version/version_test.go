package version

import (
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		info debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Version: "(devel)"}},
			"coffre devel (commit unknown, go1.25.0)"},
		{debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-05T10:00:00Z"},
		}}, "coffre v1.2.3 (commit 0123456789ab, 2026-12-05T10:00:00Z, go1.25.0)"},
		{debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"},
		}}, "coffre devel (commit abc, modified, go1.25.0)"},
	} {
		if got := format("coffre", &c.info); got != c.want {
			t.Errorf("format = %q, want %q", got, c.want)
		}
	}
}
