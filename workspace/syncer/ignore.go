package syncer

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// IgnoreFile is the name of the per-folder file of extra patterns.
const IgnoreFile = ".coffreignore"

// defaultIgnore are the temporary and lock files of editors and office
// suites, the files of operating systems, and coffre's own temporary
// files: never uploaded, never deleted by sync.
var defaultIgnore = []string{
	".coffre*", ".*.coffre-*", // coffre's own state and temporary downloads
	"~$*", ".~lock.*#", "*.tmp", "~*.tmp", // office suites
	"*.swp", "*.swx", "*.swo", "4913", "*~", ".#*", "#*#", // vim, emacs
	".DS_Store", "._*", "Thumbs.db", "desktop.ini", // operating systems
}

// Ignore decides which paths sync leaves alone.
type Ignore struct {
	patterns []string
}

// LoadIgnore reads the default patterns and dir/.coffreignore (one glob
// per line, matched against the name or the path from the folder's root;
// '#' starts a comment).
func LoadIgnore(dir string) *Ignore {
	ig := &Ignore{patterns: append([]string(nil), defaultIgnore...)}
	f, err := os.Open(filepath.Join(dir, IgnoreFile))
	if err != nil {
		return ig
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			// "scratch/" names a folder (and what is under it, since a
			// path under an ignored folder is ignored).
			ig.patterns = append(ig.patterns, strings.TrimSuffix(line, "/"))
		}
	}
	return ig
}

// Match reports whether rel (slash-separated, from the folder's root) is
// ignored. A path under an ignored folder is ignored.
func (ig *Ignore) Match(rel string) bool {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	for i := range parts {
		name, sub := parts[i], strings.Join(parts[:i+1], "/")
		for _, p := range ig.patterns {
			if anchored, ok := strings.CutPrefix(p, "/"); ok {
				// "/build" is the build folder at the root, not any build.
				if ok, _ := path.Match(anchored, sub); ok {
					return true
				}
				continue
			}
			if ok, _ := path.Match(p, name); ok {
				return true
			}
			if i > 0 { // at the root the path is the name
				if ok, _ := path.Match(p, sub); ok {
					return true
				}
			}
		}
	}
	return false
}
