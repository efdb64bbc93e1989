package web

import (
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// readAssets returns every embedded file's text by path.
func readAssets(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Assets(), p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files["index.html"] == "" {
		t.Fatal("no index.html among the embedded assets")
	}
	return files
}

// The interface builds the page with textContent and createElement only:
// a file or person's name must never be parsed as HTML. The browser suite
// shows it on one name (tests/browser); this keeps every code path honest.
func TestNoHTMLParsingOfData(t *testing.T) {
	banned := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setTimeout\(['"]|srcdoc|createContextualFragment|DOMParser`)
	for p, src := range readAssets(t) {
		if !strings.HasSuffix(p, ".js") {
			continue
		}
		for i, line := range strings.Split(src, "\n") {
			if m := banned.FindString(line); m != "" {
				t.Errorf("%s:%d uses %s: build the DOM with textContent/createElement instead", p, i+1, m)
			}
		}
	}
}

// The Content-Security-Policy forbids inline script and style and every
// other origin: the HTML has neither, and no asset names a network
// address (nothing is fetched from a CDN).
func TestNoInlineCodeNorExternalOrigin(t *testing.T) {
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<\s]`),        // a script with a body
		regexp.MustCompile(`<style`),                            // a style element
		regexp.MustCompile(`\sstyle\s*=`),                       // a style attribute
		regexp.MustCompile(`\son[a-z]+\s*=`),                    // an event handler attribute
		regexp.MustCompile(`(?i)(src|href)\s*=\s*"javascript:`), // a javascript: address
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}(/|"|')`)
	for p, src := range readAssets(t) {
		if strings.HasSuffix(p, ".html") {
			for _, re := range inline {
				if m := re.FindString(src); m != "" {
					t.Errorf("%s has inline code %q: the CSP (script-src 'self') would block it", p, m)
				}
			}
			for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(src, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("%s: %s has no src: inline script is forbidden", p, tag)
				}
			}
		}
		if strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css") {
			if m := external.FindString(src); m != "" {
				t.Errorf("%s names another origin (%s): every asset is embedded", p, m)
			}
		}
	}
}

// Every module the page imports is embedded (a missing one breaks the
// whole interface with nothing but a console message).
func TestImportsResolve(t *testing.T) {
	files := readAssets(t)
	importRe := regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)
	srcRe := regexp.MustCompile(`(?:src|href)="([^":#]+)"`)
	for p, src := range files {
		var refs []string
		switch {
		case strings.HasSuffix(p, ".js"):
			for _, m := range importRe.FindAllStringSubmatch(src, -1) {
				refs = append(refs, path.Join(path.Dir(p), m[1]))
			}
		case strings.HasSuffix(p, ".html"):
			for _, m := range srcRe.FindAllStringSubmatch(src, -1) {
				refs = append(refs, path.Join(path.Dir(p), m[1]))
			}
		}
		for _, r := range refs {
			if _, ok := files[r]; !ok {
				t.Errorf("%s refers to %s, which is not embedded", p, r)
			}
		}
	}
}

// Every text the interface asks for by a literal key exists in English
// and in French, and both files have the same keys: a missing one would
// show its key to the person.
func TestTextsInBothLanguages(t *testing.T) {
	files := readAssets(t)
	langs := map[string]map[string]string{}
	for _, l := range []string{"en", "fr"} {
		var m map[string]string
		if err := json.Unmarshal([]byte(files["i18n/"+l+".json"]), &m); err != nil {
			t.Fatalf("i18n/%s.json: %v", l, err)
		}
		langs[l] = m
	}
	for k := range langs["en"] {
		if _, ok := langs["fr"][k]; !ok {
			t.Errorf("i18n/fr.json lacks %q", k)
		}
	}
	for k := range langs["fr"] {
		if _, ok := langs["en"][k]; !ok {
			t.Errorf("i18n/en.json lacks %q", k)
		}
	}
	keyRe := regexp.MustCompile(`\bt\(\s*'([A-Za-z0-9_.]+)'`)
	var used []string
	for p, src := range files {
		if strings.HasSuffix(p, ".js") {
			for _, m := range keyRe.FindAllStringSubmatch(src, -1) {
				used = append(used, m[1])
			}
		}
	}
	sort.Strings(used)
	if len(used) < 20 {
		t.Fatalf("found only %d text keys in the scripts: is the pattern still right?", len(used))
	}
	for _, k := range used {
		for l, m := range langs {
			if _, ok := m[k]; !ok {
				t.Errorf("i18n/%s.json lacks %q, which the interface uses", l, k)
			}
		}
	}
}

// Every error code the API documents has a sentence in both languages:
// the interface shows it instead of the English message.
func TestErrorCodesTranslated(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "API.md"))
	if err != nil {
		t.Skipf("docs/API.md: %v", err)
	}
	_, table, ok := strings.Cut(string(doc), "## Error codes")
	if !ok {
		t.Fatal("docs/API.md has no '## Error codes' section")
	}
	row := regexp.MustCompile("(?m)^\\| (`[a-z_]+`(?:, `[a-z_]+`)*) \\|")
	code := regexp.MustCompile("`([a-z_]+)`")
	files := readAssets(t)
	n := 0
	for _, l := range []string{"en", "fr"} {
		var m map[string]string
		if err := json.Unmarshal([]byte(files["i18n/"+l+".json"]), &m); err != nil {
			t.Fatal(err)
		}
		for _, r := range row.FindAllStringSubmatch(table, -1) {
			for _, c := range code.FindAllStringSubmatch(r[1], -1) {
				n++
				if _, ok := m["error."+c[1]]; !ok {
					t.Errorf("i18n/%s.json has no sentence for the API's error code %q (error.%s)", l, c[1], c[1])
				}
			}
		}
	}
	if n < 40 {
		t.Fatalf("found only %d codes in docs/API.md's table: is the pattern still right?", n)
	}
}
