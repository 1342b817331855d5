package statuspage

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's Chromium; the test command installs it, and
// GITOPS_BOT_REQUIRE_BROWSER=1 makes its absence a failure.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GITOPS_BOT_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium on PATH (hack/test.sh installs Debian's chromium)")
	}
	t.Skip("no Chromium on PATH; hack/test.sh installs it")
	return ""
}

// headless runs Chromium once on url with the given output flag. The flags
// keep it off the network and away from any profile on the machine.
func headless(t *testing.T, bin, url string, out ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--force-device-scale-factor=1", "--window-size=1400,1000", "--user-data-dir=" + t.TempDir()}, out...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", out, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestPageRendersInABrowser loads the page in headless Chromium: the DOM it
// builds holds the three tables with their rows, and the screenshot shows
// each table's header band (the th background) across the page.
func TestPageRendersInABrowser(t *testing.T) {
	bin := chromium(t)
	srv := httptest.NewServer(example())
	defer srv.Close()

	dom := string(headless(t, bin, srv.URL+"/", "--dump-dom"))
	if n := strings.Count(dom, "<table"); n != 3 {
		t.Fatalf("the browser built %d tables, want 3:\n%s", n, dom)
	}
	// Header row plus: two checks, one verification, three entries.
	if n := strings.Count(dom, "<tr>"); n != 3+2+1+3 {
		t.Errorf("the browser built %d table rows, want 9", n)
	}

	shot := filepath.Join(t.TempDir(), "page.png")
	headless(t, bin, srv.URL+"/", "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if bands := headerBands(img); bands != 3 {
		t.Errorf("the screenshot shows %d table header bands, want 3", bands)
	}
}

// headerBands counts the runs of pixel rows where the header colour
// (#dbe7f5) spans at least half the width: one per rendered table.
func headerBands(img image.Image) int {
	b := img.Bounds()
	bands, in := 0, false
	for y := b.Min.Y; y < b.Max.Y; y++ {
		n := 0
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, 0xdb) && near(g>>8, 0xe7) && near(bl>>8, 0xf5) {
				n++
			}
		}
		wide := n >= b.Dx()/2
		if wide && !in {
			bands++
		}
		in = wide
	}
	return bands
}

func near(v uint32, want int) bool { d := int(v) - want; return d >= -3 && d <= 3 }
