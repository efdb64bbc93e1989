package adversarial

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/coffre/coffre/certificate"
)

// canaries are unique strings put in every place a name or content can
// go: none may ever reach the server.
var canaries = struct {
	vault, renamed, folder, subfolder, file, moved, bobFile, content, history string
}{
	vault:     "CANARY-VAULT-ZEBRA-4711",
	renamed:   "CANARY-RENAMED-YAK-3141",
	folder:    "CANARY-FOLDER-OKAPI-9182",
	subfolder: "CANARY-SUB-IBEX-2207",
	file:      "CANARY-FILE-NARWHAL-5533.txt",
	moved:     "CANARY-MOVED-TAPIR-6064.txt",
	bobFile:   "CANARY-BOB-WOMBAT-8808.md",
	content:   "CANARY-CONTENT-QUOKKA-2468",
	history:   "CANARY-OLD-VERSION-MARMOT-1357",
}

// TestA23NoMetadataInServerStore: after a workload that puts unique canary
// strings in a vault's name, its new name, folder and file names (created,
// moved, removed) and file contents (every version), not one byte the
// server stores — the bolt file and the other files of its data directory,
// or every row of every table of its PostgreSQL database; every block file
// or object of its bucket — nor its logs, nor any request or answer it
// handled, holds a canary: raw, lowercased, hex, UTF-16 or base64 at any
// alignment (SECURITY.md A23, "What the server is allowed to see").
func TestA23NoMetadataInServerStore(t *testing.T) {
	t.Parallel()
	w := newWorld(t, canaries.vault, member{"bob", certificate.ProfileStandard, certificate.RoleContributor})
	rec := w.s.Record()
	av := w.open(t, "alice")
	mkdir(t, av, "/"+canaries.folder)
	mkdir(t, av, "/"+canaries.folder+"/"+canaries.subfolder)
	body := func(version string) []byte {
		return []byte(strings.Repeat(canaries.content+" "+version+"\n", 200))
	}
	p := "/" + canaries.folder + "/" + canaries.subfolder + "/" + canaries.file
	put(t, av, p, []byte(canaries.history))
	put(t, av, p, body("v2"))
	put(t, av, p, append(w.content(t, 2), body("v3, after the random blocks")...))
	if err := av.Move(bg(), p, "/"+canaries.folder+"/"+canaries.moved); err != nil {
		t.Fatal(err)
	}
	bv := w.open(t, "bob")
	put(t, bv, "/"+canaries.bobFile, body("bob's"))
	if _, err := bv.History("/" + canaries.folder + "/" + canaries.moved); err != nil {
		t.Fatal(err)
	}
	if got := get(t, bv, "/"+canaries.folder+"/"+canaries.moved); !bytes.Contains(got, []byte(canaries.content)) {
		t.Fatal("Bob does not read the content back")
	}
	if err := av.Remove(bg(), "/"+canaries.bobFile); err != nil {
		t.Fatal(err)
	}
	if err := w.sess["alice"].RenameVault(bg(), w.vault, canaries.renamed); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sess["alice"].RotateVault(bg(), w.vault); err != nil {
		t.Fatal(err)
	}
	w.open(t, "bob")
	w.s.StopRecording()

	// Everything the server holds or saw.
	haystacks := map[string][]byte{"server logs": []byte(w.s.Logs())}
	stored, blocks := w.s.StoredData(t)
	for where, data := range stored {
		haystacks["store: "+where] = data
	}
	for where, data := range blocks {
		haystacks["block "+where] = data
	}
	for i, c := range rec.Calls() {
		for what, m := range map[string]proto.Message{"request": c.Request, "answer": c.Response} {
			if m == nil {
				continue
			}
			data, err := proto.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			haystacks[fmt.Sprintf("%s %d (%s)", what, i, c.Method)] = data
		}
	}
	if len(rec.Calls()) < 20 {
		t.Fatalf("only %d calls recorded", len(rec.Calls()))
	}
	list := []string{canaries.vault, canaries.renamed, canaries.folder, canaries.subfolder, canaries.file,
		canaries.moved, canaries.bobFile, canaries.content, canaries.history}
	for _, canary := range list {
		for form, needle := range canaryForms(canary) {
			for where, data := range haystacks {
				if bytes.Contains(data, needle) {
					t.Errorf("%s (%s) found in %s", canary, form, where)
				}
			}
		}
	}

	// Control: the search finds what the server is allowed to see (a
	// member's address, in the store), and each encoding it looks for.
	found := false
	for _, data := range stored {
		found = found || bytes.Contains(data, []byte("bob@example.org"))
	}
	if !found {
		t.Fatalf("control: a member's address is not found in the store (%d pieces searched)", len(stored))
	}
	forms := canaryForms(canaries.content)
	for shift, prefix := range []string{"", "x", "xy"} {
		plain := []byte(prefix + canaries.content + "!")
		for form, planted := range map[string]string{
			fmt.Sprintf("base64+%d", shift):    b64std(plain),
			fmt.Sprintf("base64url+%d", shift): b64url(plain),
			"hex":                              fmt.Sprintf("%x", plain),
			"utf-16le":                         string(utf16le(string(plain))),
		} {
			if needle, ok := forms[form]; !ok || !bytes.Contains([]byte(planted), needle) {
				t.Errorf("control: the %s form of a canary is not found behind %q", form, prefix)
			}
		}
	}
	if len(blocks) < 5 {
		t.Fatalf("control: only %d blocks searched", len(blocks))
	}
}
