package coffre_test

// The layering of the module, checked on its real import graph (go list) so
// that a lower package importing a higher one fails the build's tests
// instead of being noticed in review. The README's "How it is built" table
// says what each folder is; this file says what each may depend on.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/coffre/coffre"

// layering is the rule table: whose imports a rule checks, whether imports
// count at any depth inside this module or only directly (and then also for
// the package's tests), and the rule; a "#" line says why, and rows that
// differ only in who are one rule. Paths without a dot in their first element
// are this module's, relative to its root; "x/..." is x and every package
// below it. A package is checked on its own, so a chain is reported at the
// lowest package that a rule covers, not again at each importer.
const layering = `
# who                    | counted      | rule
#
# Storage is below the server: it knows neither the wire nor generated types.
server/store/...         | any depth    | never imports server server/cli wire proto/gen/...
# The server needs neither the client nor the client's file-system model.
server/...               | any depth    | never imports workspace/... client/...
# Nothing on the client side depends on the server, nor do the shared formats.
client/... workspace/... | any depth    | never imports server/...
certificate link         | any depth    | never imports server/...
vaultlog                 | any depth    | never imports server/...
# The command line goes through the client library.
client/cli               | direct       | never imports go.etcd.io/bbolt/... google.golang.org/grpc/... proto/gen/...
# The primitives are the bottom layer.
crypto                   | any depth    | imports no other package of this module
# Certificates need only the primitives and their signed format.
certificate              | any depth    | imports only crypto proto/gen/...
# Generated types stay at the edges: the signed formats, the wire codec, client, server.
proto/gen/...            | direct+tests | is imported only by certificate vaultlog workspace wire client/... server/... tests/...
`

// knownViolations are breaks of the rules on main that issue 11's other
// branches remove. The test fails when one of them no longer happens, so
// that this list is emptied as they merge instead of going stale.
var knownViolations = []violation{}

type rule struct {
	line               string // as written in the table
	counted, text, why string // its cells
	who, except        string // whose imports the rule checks
	not                string // forbidden imports
	only               string // or: the only packages of this module allowed ("-": none)
	direct             bool   // only direct imports count, not imports of imports
	tests              bool   // the imports of the package's tests count too
}

// parseRules reads the layering table.
func parseRules(t *testing.T) []rule {
	t.Helper()
	var rules []rule
	var why string
	for _, line := range strings.Split(strings.TrimSpace(layering), "\n") {
		if c, ok := strings.CutPrefix(line, "#"); ok {
			why = strings.TrimSpace(c)
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) != 3 {
			t.Fatalf("layering table: want 3 columns: %s", line)
		}
		who, counted, text := strings.TrimSpace(cols[0]), strings.TrimSpace(cols[1]), strings.TrimSpace(cols[2])
		if n := len(rules) - 1; n >= 0 && rules[n].counted == counted && rules[n].text == text && rules[n].except == "" {
			rules[n].who += " " + who
			rules[n].line = rules[n].who + " (" + counted + ") " + text
			continue
		}
		r := rule{line: who + " (" + counted + ") " + text, counted: counted, text: text, who: who, why: why}
		switch counted {
		case "any depth":
		case "direct":
			r.direct = true
		case "direct+tests":
			r.direct, r.tests = true, true
		default:
			t.Fatalf("layering table: want \"any depth\", \"direct\" or \"direct+tests\": %s", line)
		}
		if pkgs, ok := strings.CutPrefix(text, "never imports "); ok {
			r.not = pkgs
		} else if pkgs, ok := strings.CutPrefix(text, "imports only "); ok {
			r.only = pkgs
		} else if text == "imports no other package of this module" {
			r.only = "-"
		} else if pkgs, ok := strings.CutPrefix(text, "is imported only by "); ok && r.direct {
			// Turned around: every other package never imports who.
			r.who, r.except, r.not = "...", who+" "+pkgs, who
		} else {
			t.Fatalf("layering table: unknown rule: %s", line)
		}
		rules = append(rules, r)
	}
	return rules
}

// violation is a package (from; "x (tests)" for x's tests) that imports, at
// some depth, one it may not (to).
type violation struct{ from, to string }

func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	found := map[violation]bool{}
	for _, r := range parseRules(t) {
		for _, p := range slices.Sorted(maps.Keys(pkgs)) {
			if !r.covers(p) {
				continue
			}
			for _, chain := range r.check(pkgs, p) {
				v := violation{short(chain[0]), short(chain[len(chain)-1])}
				found[v] = true
				if slices.Contains(knownViolations, v) {
					continue
				}
				t.Errorf("layering: %s breaks the rule %q (%s)",
					chainString(chain), r.line, r.why)
			}
		}
	}
	for _, v := range knownViolations {
		if !found[v] {
			t.Errorf("layering: %s no longer imports %s: delete this entry from knownViolations in layering_test.go", v.from, v.to)
		}
	}
}

// check returns, for each package pkg may not import, the shortest import
// chain from pkg to it; the chain starts at "pkg (tests)" when it is pkg's
// tests that import it.
func (r rule) check(pkgs map[string]*listedPackage, pkg string) [][]string {
	start := pkgs[pkg].Imports
	if r.tests {
		start = slices.Concat(start, pkgs[pkg].TestImports, pkgs[pkg].XTestImports)
	}
	var chains [][]string
	parent := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		imports := pkgs[from].Imports
		if from == pkg {
			imports = start
		}
		for _, imp := range imports {
			if _, seen := parent[imp]; seen {
				continue
			}
			parent[imp] = from
			if r.forbids(imp) {
				chain := chainTo(parent, imp)
				if !slices.Contains(pkgs[pkg].Imports, chain[1]) {
					chain[0] += " (tests)"
				}
				chains = append(chains, chain)
			}
			// Only this module's packages are followed, and not those the rule
			// also covers: they are checked on their own.
			if _, ours := pkgs[imp]; ours && !r.direct && !r.covers(imp) {
				queue = append(queue, imp)
			}
		}
	}
	return chains
}

func (r rule) covers(pkg string) bool {
	return matchAny(r.who, pkg) && !matchAny(r.except, pkg)
}

func (r rule) forbids(imp string) bool {
	if r.only != "" {
		return strings.HasPrefix(imp, module+"/") && !matchAny(r.only, imp)
	}
	return matchAny(r.not, imp)
}

// matchAny reports whether pkg matches one of the space-separated patterns.
func matchAny(patterns, pkg string) bool {
	for _, p := range strings.Fields(patterns) {
		if p == "..." {
			p = module + "/..."
		}
		if first, _, _ := strings.Cut(p, "/"); !strings.Contains(first, ".") {
			p = module + "/" + p
		}
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if pkg == base || strings.HasPrefix(pkg, base+"/") {
				return true
			}
		} else if pkg == p {
			return true
		}
	}
	return false
}

type listedPackage struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
	Error                              *struct{ Err string }
}

// listPackages lists this module's packages with what they import.
func listPackages(t *testing.T) map[string]*listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[p.ImportPath] = &p
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

func chainTo(parent map[string]string, pkg string) []string {
	var chain []string
	for p := pkg; p != ""; p = parent[p] {
		chain = append(chain, p)
	}
	slices.Reverse(chain)
	return chain
}

func chainString(chain []string) string {
	s := make([]string, len(chain))
	for i, p := range chain {
		s[i] = short(p)
	}
	return strings.Join(s, " → ")
}

func short(pkg string) string { return strings.TrimPrefix(pkg, module+"/") }
