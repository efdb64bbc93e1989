package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffre/coffre/tests/hostile"
	"github.com/coffre/coffre/workspace"
)

// BenchmarkLargeFolder measures a folder of 10,000 files through the API:
// the first page (the vault read from the local state once), the next
// pages (the vault kept open on the app's session), and a download (a
// transfer session of its own, which reads the vault again).
//
//	go test -run '^$' -bench LargeFolder -benchtime 1x ./client/app
//
// It builds the folder once per run (10 commits of 1,000 files through the
// library), so run it with -benchtime 1x: the pages are timed in a loop of
// its own.
func BenchmarkLargeFolder(b *testing.B) {
	const files = 10000
	srv := hostile.Start(b)
	home := filepath.Join(b.TempDir(), "home")
	s := hostile.Bootstrap(b, srv, home)
	info, err := s.CreateVault(bgCtx(b), "Grand")
	if err != nil {
		b.Fatal(err)
	}
	id := info.ID
	v, _, err := s.PrepareVault(bgCtx(b), "Grand")
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Mkdir(bgCtx(b), "/big"); err != nil {
		b.Fatal(err)
	}
	for batch := 0; batch < files; batch += 1000 {
		var items []workspace.PutItem
		for i := batch; i < batch+1000; i++ {
			content := fmt.Sprintf("file %d", i)
			items = append(items, workspace.PutItem{Path: fmt.Sprintf("/big/f%05d.txt", i),
				Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader([]byte(content))), nil }})
		}
		if _, err := v.PutFiles(bgCtx(b), items); err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	ta := serveApp(b, home)
	get := func(p string) { ta.ok("GET", p, nil, nil) }
	start := time.Now()
	get("/api/vaults/" + id + "/files?path=/big&limit=200")
	first := time.Since(start)
	start = time.Now()
	get("/api/vaults/" + id + "/content?path=/big/f00042.txt")
	download := time.Since(start)
	start = time.Now()
	get("/api/vaults/" + id + "/content?path=/big/f00043.txt")
	again := time.Since(start)
	const pages = 25
	start = time.Now()
	for i := range pages {
		get(fmt.Sprintf("/api/vaults/%s/files?path=/big&limit=200&sort=modified&order=desc&offset=%d", id, (i*200)%files))
	}
	page := time.Since(start) / pages
	b.ReportMetric(float64(first.Milliseconds()), "ms/first-page")
	b.ReportMetric(float64(page.Milliseconds()), "ms/next-page")
	b.ReportMetric(float64(download.Milliseconds()), "ms/first-download")
	b.ReportMetric(float64(again.Milliseconds()), "ms/next-download")
	b.Logf("10,000 files: first page %v, next pages %v each (%.0f× faster); first download %v, next %v (%.0f× faster)",
		first, page, float64(first)/float64(page), download, again, float64(download)/float64(again))
}

func bgCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	return ctx
}
