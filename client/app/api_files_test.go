package app

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/hostile"
)

func TestVaultsListCreateRenameArchive(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	var list []vaultJSON
	ta.ok("GET", "/api/vaults", nil, &list)
	if len(list) != 0 {
		t.Fatalf("a new organisation lists vaults: %+v", list)
	}
	id := ta.createVault("Cardiologie")
	ta.createVault("Radiologie")
	ta.ok("GET", "/api/vaults", nil, &list)
	if len(list) != 2 {
		t.Fatalf("vaults: %+v", list)
	}
	for _, v := range list {
		if v.Role != "owner" || v.Members != 1 || v.Archived || !v.CanWrite || !v.CanManage {
			t.Fatalf("vault as listed: %+v", v)
		}
	}

	var v vaultJSON
	ta.ok("PATCH", "/api/vaults/"+id, map[string]any{"name": "Cardiologie pédiatrique"}, &v)
	if v.Name != "Cardiologie pédiatrique" || v.ID != id {
		t.Fatalf("renamed: %+v", v)
	}
	// A vault is found by its name too.
	ta.ok("GET", "/api/vaults/"+"Cardiologie%20p%C3%A9diatrique", nil, &v)
	if v.ID != id || len(v.MemberList) != 1 || v.MemberList[0].Email != "admin@example.org" {
		t.Fatalf("vault by name: %+v", v)
	}

	ta.ok("PATCH", "/api/vaults/"+id, map[string]any{"archived": true}, &v)
	if !v.Archived || v.CanWrite {
		t.Fatalf("archived: %+v", v)
	}
	ta.fails("PUT", "/api/vaults/"+id+"/content"+q("path", "/a.txt"), strings.NewReader("x"), http.StatusForbidden, "archived")
	ta.ok("PATCH", "/api/vaults/"+id, map[string]any{"archived": false}, &v)
	if v.Archived {
		t.Fatalf("restored: %+v", v)
	}
	ta.put(id, "/a.txt", []byte("x"))

	ta.fails("GET", "/api/vaults/nope", nil, http.StatusNotFound, "unknown_vault")
	ta.fails("POST", "/api/vaults", "not an object", http.StatusBadRequest, "bad_request")
	ta.fails("POST", "/api/vaults", map[string]any{"nmae": "typo"}, http.StatusBadRequest, "bad_request")
	ta.fails("PATCH", "/api/vaults/"+id, map[string]any{}, http.StatusBadRequest, "bad_request")
	ta.fails("POST", "/api/vaults", map[string]any{"name": "a:b"}, http.StatusBadRequest, "bad_vault_name")
	ta.fails("POST", "/api/vaults", map[string]any{"name": "radiologie"}, http.StatusConflict, "vault_name_taken")
}

// A name that is HTML comes back as the same JSON string: the API never
// escapes nor interprets names (the interface escapes what it shows).
func TestHostileNamesComeBackUnchanged(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	evil := `<img src=x onerror=alert(1)>`
	id := ta.createVault(evil)
	ta.put(id, "/"+evil, []byte("payload"))
	var l listingJSON
	ta.ok("GET", "/api/vaults/"+id+"/files", nil, &l)
	if len(l.Items) != 1 || l.Items[0].Name != evil || l.Items[0].Path != "/"+evil {
		t.Fatalf("listing: %+v", l)
	}
	_, raw, hd := ta.call("GET", "/api/vaults/"+id+"/files", nil)
	if hd.Get("Content-Type") != "application/json; charset=utf-8" || hd.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("listing headers: %v", hd)
	}
	if bytes.Contains(raw, []byte("<img")) {
		t.Fatalf("the JSON carries a raw tag (a browser sniffing it would see HTML): %s", raw)
	}
	// As a file's name, it is never served as HTML either.
	for _, name := range []string{evil + ".html", "a\"b\r\nX-Evil: 1.txt", "é\u202egnp.exe"} {
		ta.put(id, "/"+name, []byte("<script>alert(1)</script>"))
		status, _, hd := ta.get("preview", id, "/"+name)
		if status != http.StatusOK || strings.Contains(hd.Get("Content-Type"), "html") || hd.Get("X-Evil") != "" ||
			hd.Get("Content-Disposition") == "" || hd.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%q: status %d, headers %v", name, status, hd)
		}
	}
	var list []vaultJSON
	ta.ok("GET", "/api/vaults", nil, &list)
	if len(list) != 1 || list[0].Name != evil {
		t.Fatalf("vaults: %+v", list)
	}
}

// A file of several MiB goes up from a request body of unknown length and
// comes back byte for byte; a second upload to the same name is refused
// unless it asks to overwrite, which makes a new version.
func TestUploadDownloadStreamed(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Dossiers")
	content := make([]byte, 9<<20+12345)
	rand.Read(content)
	// A reader that is not a *bytes.Reader: sent chunked, no length.
	var f fileJSON
	ta.ok("PUT", "/api/vaults/"+id+"/content"+q("path", "/scans/irm.bin", "parents", "1"), io.MultiReader(bytes.NewReader(content)), &f)
	if f.Size != uint64(len(content)) || f.Version != 1 || f.Kind != "file" || f.Author.Name != "Admin" {
		t.Fatalf("uploaded: %+v", f)
	}
	status, got, hd := ta.get("content", id, "/scans/irm.bin")
	if status != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("download: status %d, %d bytes, same: %v", status, len(got), bytes.Equal(got, content))
	}
	if hd.Get("Content-Disposition") != `attachment; filename=irm.bin` || hd.Get("Content-Type") != "application/octet-stream" ||
		hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Cache-Control") != "no-store" || !strings.HasPrefix(hd.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("download headers: %v", hd)
	}

	ta.fails("PUT", "/api/vaults/"+id+"/content"+q("path", "/scans/irm.bin"), bytes.NewReader([]byte("other")), http.StatusConflict, "exists")
	f = ta.put(id, "/scans/irm.bin", []byte("other"), "overwrite", "1")
	if f.Version != 2 || f.Size != 5 {
		t.Fatalf("overwritten: %+v", f)
	}
	if _, got, _ := ta.get("content", id, "/scans/irm.bin"); string(got) != "other" {
		t.Fatalf("after overwrite: %q", got)
	}
	if _, got, _ := ta.get("content", id, "/scans/irm.bin", "version", "1"); !bytes.Equal(got, content) {
		t.Fatal("version 1 does not come back")
	}
	ta.fails("GET", "/api/vaults/"+id+"/content"+q("path", "/scans"), nil, http.StatusConflict, "is_folder")
	ta.fails("GET", "/api/vaults/"+id+"/content"+q("path", "/nope"), nil, http.StatusNotFound, "not_found")
	ta.fails("PUT", "/api/vaults/"+id+"/content"+q("path", "/x/y.txt"), strings.NewReader("x"), http.StatusNotFound, "not_found")
	ta.fails("PUT", "/api/vaults/"+id+"/content"+q("path", "/"), strings.NewReader("x"), http.StatusBadRequest, "bad_request")
}

// Preview opens PDF, images and text in the browser, and never serves
// what could run in the interface's origin as itself.
func TestPreviewContentTypes(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Aperçus")
	files := map[string]struct{ contentType, disposition string }{
		"/page.html":  {"text/plain; charset=utf-8", "inline"},
		"/logo.svg":   {"text/plain; charset=utf-8", "inline"},
		"/app.js":     {"text/plain; charset=utf-8", "inline"},
		"/notes.txt":  {"text/plain; charset=utf-8", "inline"},
		"/photo.PNG":  {"image/png", "inline"},
		"/scan.jpeg":  {"image/jpeg", "inline"},
		"/cr.pdf":     {"application/pdf", "inline"},
		"/setup.exe":  {"application/octet-stream", "attachment"},
		"/page.xhtml": {"text/plain; charset=utf-8", "inline"},
		"/noext":      {"application/octet-stream", "attachment"},
	}
	body := []byte(`<html><script>alert(1)</script></html>`)
	for p := range files {
		ta.put(id, p, body)
	}
	for p, want := range files {
		status, got, hd := ta.get("preview", id, p)
		if status != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("%s: status %d, body %q", p, status, got)
		}
		if ct := hd.Get("Content-Type"); ct != want.contentType {
			t.Errorf("%s: Content-Type %q, want %q", p, ct, want.contentType)
		}
		if d := hd.Get("Content-Disposition"); !strings.HasPrefix(d, want.disposition+";") {
			t.Errorf("%s: Content-Disposition %q, want %s", p, d, want.disposition)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", p, hd)
		}
		csp := hd.Get("Content-Security-Policy")
		if want.contentType != "application/pdf" && !strings.HasPrefix(csp, "sandbox;") {
			t.Errorf("%s: CSP %q, want a sandbox", p, csp)
		}
		if !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q, want default-src 'none'", p, csp)
		}
	}
}

// A folder lists a page at a time, sorted here, folders first.
func TestListingPagedAndSorted(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Liste")
	ta.ok("POST", "/api/vaults/"+id+"/folders", map[string]any{"path": "/Zeta"}, nil)
	ta.ok("POST", "/api/vaults/"+id+"/folders", map[string]any{"path": "/alpha/deep/er", "parents": true}, nil)
	ta.fails("POST", "/api/vaults/"+id+"/folders", map[string]any{"path": "/Zeta"}, http.StatusConflict, "exists")
	const n = 25
	for i := range n {
		ta.put(id, fmt.Sprintf("/f%02d.txt", i), bytes.Repeat([]byte("x"), (i*7)%n+1))
	}
	page := func(kv ...string) listingJSON {
		var l listingJSON
		ta.ok("GET", "/api/vaults/"+id+"/files"+q(kv...), nil, &l)
		return l
	}
	l := page("limit", "10")
	if l.Total != n+2 || len(l.Items) != 10 || l.Kind != "folder" {
		t.Fatalf("first page: total %d, %d items", l.Total, len(l.Items))
	}
	if l.Items[0].Name != "alpha" || l.Items[1].Name != "Zeta" || l.Items[0].Kind != "folder" || l.Items[2].Name != "f00.txt" {
		t.Fatalf("folders first, names without case: %v %v %v", l.Items[0].Name, l.Items[1].Name, l.Items[2].Name)
	}
	last := page("limit", "10", "offset", "20")
	if len(last.Items) != n+2-20 || last.Items[len(last.Items)-1].Name != "f24.txt" {
		t.Fatalf("last page: %+v", last.Items)
	}
	if past := page("offset", "100"); len(past.Items) != 0 || past.Total != n+2 {
		t.Fatalf("past the end: %+v", past)
	}
	bySize := page("sort", "size", "order", "desc", "limit", "1000")
	for i := 3; i < len(bySize.Items); i++ {
		if bySize.Items[i-1].Size < bySize.Items[i].Size {
			t.Fatalf("not by size descending at %d: %+v", i, bySize.Items)
		}
	}
	if bySize.Items[2].Size != n {
		t.Fatalf("largest first: %+v", bySize.Items[2])
	}
	byTime := page("sort", "modified", "limit", "1000")
	if byTime.Items[2].Name != "f00.txt" || byTime.Items[len(byTime.Items)-1].Name != "f24.txt" {
		t.Fatalf("by time: %v … %v", byTime.Items[2].Name, byTime.Items[len(byTime.Items)-1].Name)
	}
	ta.fails("GET", "/api/vaults/"+id+"/files"+q("sort", "colour"), nil, http.StatusBadRequest, "bad_request")
	ta.fails("GET", "/api/vaults/"+id+"/files"+q("limit", "-1"), nil, http.StatusBadRequest, "bad_request")
	if sub := page("path", "/alpha/deep"); len(sub.Items) != 1 || sub.Items[0].Path != "/alpha/deep/er" {
		t.Fatalf("sub-folder: %+v", sub)
	}
}

// Move, remove to the trash, list it, undelete.
func TestMoveTrashUndelete(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Corbeille")
	ta.put(id, "/a.txt", []byte("hello"))
	ta.ok("POST", "/api/vaults/"+id+"/folders", map[string]any{"path": "/d"}, nil)
	ta.ok("POST", "/api/vaults/"+id+"/move", map[string]any{"from": "/a.txt", "to": "/d/b.txt"}, nil)
	if _, got, _ := ta.get("content", id, "/d/b.txt"); string(got) != "hello" {
		t.Fatalf("moved: %q", got)
	}
	ta.fails("DELETE", "/api/vaults/"+id+"/files"+q("path", "/d"), nil, http.StatusConflict, "not_empty")
	ta.ok("DELETE", "/api/vaults/"+id+"/files"+q("path", "/d", "recursive", "1"), nil, nil)
	var trash []removedJSON
	ta.ok("GET", "/api/vaults/"+id+"/trash", nil, &trash)
	if len(trash) != 1 || trash[0].Path != "/d" || trash[0].Kind != "folder" || trash[0].RemovedBy.Name != "Admin" {
		t.Fatalf("trash: %+v", trash)
	}
	ta.ok("POST", "/api/vaults/"+id+"/undelete", map[string]any{"path": "/d"}, nil)
	if _, got, _ := ta.get("content", id, "/d/b.txt"); string(got) != "hello" {
		t.Fatalf("undeleted: %q", got)
	}
	ta.fails("POST", "/api/vaults/"+id+"/undelete", map[string]any{"path": "/d"}, http.StatusNotFound, "not_in_trash")
}

// History lists each version with its author; restore brings one back as
// a new version; the listing as of a date shows the folder then.
func TestHistoryRestoreAndViewAsOf(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Historique")
	v1 := ta.put(id, "/cr.txt", []byte("first"))
	time.Sleep(20 * time.Millisecond) // the versions' times differ
	ta.put(id, "/cr.txt", []byte("second"), "overwrite", "1")
	ta.put(id, "/later.txt", []byte("later"))
	var hist []versionJSON
	ta.ok("GET", "/api/vaults/"+id+"/history"+q("path", "/cr.txt"), nil, &hist)
	if len(hist) != 2 || hist[0].Version != 1 || hist[1].Version != 2 || hist[0].Size != 5 || hist[1].Author.Name != "Admin" || hist[0].Device != "admin-laptop" {
		t.Fatalf("history: %+v", hist)
	}
	var l listingJSON
	ta.ok("GET", "/api/vaults/"+id+"/files"+q("at", v1.Modified.Format(time.RFC3339Nano)), nil, &l)
	if len(l.Items) != 1 || l.Items[0].Name != "cr.txt" || l.Items[0].Version != 1 {
		t.Fatalf("as of the first version: %+v", l.Items)
	}
	if _, got, _ := ta.get("content", id, "/cr.txt", "at", v1.Modified.Format(time.RFC3339Nano)); string(got) != "first" {
		t.Fatalf("download as of: %q", got)
	}
	var f fileJSON
	ta.ok("POST", "/api/vaults/"+id+"/restore", map[string]any{"path": "/cr.txt", "version": 1}, &f)
	if f.Version != 3 {
		t.Fatalf("restored: %+v", f)
	}
	if _, got, _ := ta.get("content", id, "/cr.txt"); string(got) != "first" {
		t.Fatalf("after restore: %q", got)
	}
	ta.fails("POST", "/api/vaults/"+id+"/restore", map[string]any{"path": "/cr.txt", "version": 9}, http.StatusInternalServerError, "failed")
	ta.fails("GET", "/api/vaults/"+id+"/files"+q("at", "yesterday"), nil, http.StatusBadRequest, "bad_request")
}

// A locked app answers every call with the code the interface shows the
// lock screen for.
func TestLockedAnswersLocked(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("V")
	ta.app.Keys.Lock()
	msg := ta.fails("GET", "/api/vaults", nil, http.StatusLocked, "locked")
	if !strings.Contains(msg, "passphrase") {
		t.Fatalf("message %q does not say what to do", msg)
	}
	ta.fails("GET", "/api/vaults/"+id+"/content"+q("path", "/a"), nil, http.StatusLocked, "locked")
	ta.fails("PUT", "/api/vaults/"+id+"/content"+q("path", "/a"), strings.NewReader("x"), http.StatusLocked, "locked")
}

// Every code in errorCodes is one docs/API.md lists.
func TestErrorCodesDocumented(t *testing.T) {
	doc, err := readDoc()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errorCodes {
		if !strings.Contains(doc, "`"+e.code+"`") {
			t.Errorf("code %q is not in docs/API.md", e.code)
		}
	}
	if !strings.Contains(doc, "`failed`") {
		t.Error("the fallback code failed is not in docs/API.md")
	}
}

func readDoc() (string, error) {
	b, err := os.ReadFile("../../docs/API.md")
	return string(b), err
}

// A transfer's session and vault are kept for the next transfer of the
// vault, brought up to date (opened again when the organisation changed),
// and closed once the keys are forgotten.
func TestTransfersKeptAndRefreshed(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Transferts")
	kept := func() []*keptVault {
		x := &ta.api.transfers
		x.mu.Lock()
		defer x.mu.Unlock()
		return append([]*keptVault(nil), x.idle[id]...)
	}
	ta.put(id, "/a.txt", []byte("one"))
	first := kept()
	if len(first) != 1 {
		t.Fatalf("kept after an upload: %d", len(first))
	}
	if _, got, _ := ta.get("content", id, "/a.txt"); string(got) != "one" {
		t.Fatalf("download: %q", got)
	}
	if now := kept(); len(now) != 1 || now[0] != first[0] {
		t.Fatal("the download did not reuse the kept transfer")
	}
	// A write made on the app's session is seen by the kept transfer.
	ta.ok("POST", "/api/vaults/"+id+"/move", map[string]any{"from": "/a.txt", "to": "/b.txt"}, nil)
	if _, got, _ := ta.get("content", id, "/b.txt"); string(got) != "one" {
		t.Fatalf("after a move: %q", got)
	}
	// A member removed: the key rotates, and the kept transfer writes
	// under the new key.
	ta.enrolUser("bob@example.org")
	ta.ok("PUT", "/api/vaults/"+id+"/members/bob@example.org", map[string]any{"role": "reader"}, nil)
	var un unshareJSON
	ta.ok("DELETE", "/api/vaults/"+id+"/members/bob@example.org", nil, &un)
	ta.put(id, "/c.txt", []byte("after the rotation"))
	if _, got, _ := ta.get("content", id, "/c.txt"); string(got) != "after the rotation" {
		t.Fatalf("after the rotation: %q", got)
	}
	if len(kept()) != 1 {
		t.Fatalf("kept: %d", len(kept()))
	}
	ta.app.Keys.Lock()
	ta.fails("GET", "/api/vaults/"+id+"/content"+q("path", "/c.txt"), nil, http.StatusLocked, "locked")
	if len(kept()) != 0 {
		t.Fatal("a session is still kept after the lock")
	}
}

// A folder dropped on the interface is uploaded as several PUTs at once,
// each creating the folders it needs: all of them land.
func TestFolderUploadInParallel(t *testing.T) {
	ta := newTestApp(t, hostile.Start(t))
	id := ta.createVault("Dépôt")
	const n = 6
	errs := make(chan string, n)
	for i := range n {
		go func() {
			p := fmt.Sprintf("/Examens/2026/e%d.txt", i)
			status, body, _ := ta.call("PUT", "/api/vaults/"+id+"/content"+q("path", p, "parents", "1"), strings.NewReader(p))
			if status != http.StatusOK {
				errs <- fmt.Sprintf("%s: %d %s", p, status, body)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
	var l listingJSON
	ta.ok("GET", "/api/vaults/"+id+"/files"+q("path", "/Examens/2026"), nil, &l)
	if l.Total != n {
		t.Fatalf("%d files landed: %+v", l.Total, l.Items)
	}
}
