package studio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/synth"
)

// TestREADMEScreenshots makes the screenshots the README and
// docs/studio.md show, when STUDIO_README_SHOTS names where to write them:
//
//	STUDIO_README_SHOTS=$PWD/docs/img go test ./studio -run READMEScreenshots -count 1
//
// The history is `scorer generate --contacts 2000`'s, the rules
// testdata/rules; each picture is the browser's 1280x800 window from the
// top of the page (the navigation and the status line showing), as a
// person opening the page sees it, but for studio-preview-effect.png: the
// preview's effect on intent, further down the page.
func TestREADMEScreenshots(t *testing.T) {
	dir := os.Getenv("STUDIO_README_SHOTS")
	if dir == "" {
		t.Skip("STUDIO_README_SHOTS is not set: the README's screenshots are made on request")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	cfg := synth.Default()
	cfg.Contacts = 2000
	if err := synth.Generate(cfg, func(ev *events.Event) error { return enc.Encode(ev) }); err != nil {
		t.Fatal(err)
	}
	h, err := backtest.Load(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	rulesDir := filepath.Join(t.TempDir(), "rules")
	os.MkdirAll(rulesDir, 0o755)
	for _, name := range []string{"engagement.yaml", "intent.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "rules", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(rulesDir, name), b, 0o644)
	}
	srv, err := New(Config{Rules: []string{rulesDir}, History: h, Source: "history.jsonl", Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	ctx := browser(t)
	do(t, ctx, chromedp.EmulateViewport(1280, 800))
	save := func(name string) {
		b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if r := img.Bounds(); r.Dx() != 1280 || r.Dy() != 800 {
			t.Fatalf("%s: %dx%d, want 1280x800", name, r.Dx(), r.Dy())
		}
		var out bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, paletted(img)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", name, out.Len())
	}
	status := func() {
		if s := text(t, ctx, "#loaded"); !strings.Contains(s, "Rules ") || !strings.Contains(s, "history of") {
			t.Fatalf("the status line says %q", s)
		}
	}

	open(t, ctx, ts.URL+"/contacts/c-000008")
	status()
	save("studio-contact.png")

	// docs/studio.md's change: demo requests get 20 points of their own.
	b, _ := os.ReadFile(filepath.Join(rulesDir, "intent.yaml"))
	edited := strings.Replace(string(b), `  - name: forms
    when: event.type in ["form_submitted", "webinar_attended"]`, `  - name: demo_request
    when: event.type == "form_submitted" && event.properties.form == "demo_request"
    points: 20
    repeatable: false
  - name: forms
    when: event.type in ["form_submitted", "webinar_attended"] && event.properties.form != "demo_request"`, 1)
	if edited == string(b) {
		t.Fatal("intent.yaml has no forms group to edit")
	}
	open(t, ctx, ts.URL+"/preview")
	do(t, ctx, chromedp.SetValue("#rule-file", "intent.yaml"))
	eval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector("#rule-text"); e.value = %q; e.dispatchEvent(new Event("input")); return true })()`, edited))
	do(t, ctx, chromedp.Click("#run-preview"))
	wait(t, ctx, `document.querySelector("[data-testid=movers]") !== null`)
	status()
	// The top of the page: the run's line and the file, its new group at
	// the window's foot.
	eval[bool](t, ctx, `(() => { window.scrollTo(0, 0); return true })()`)
	save("studio-preview.png")
	// The effect on intent, further down: docs/studio.md shows it as well.
	eval[bool](t, ctx, `(() => { document.querySelector("section[data-model=intent] h3").scrollIntoView(); return true })()`)
	save("studio-preview-effect.png")
}

// paletted keeps a screenshot's 256 most used colours (a page is a few
// flat colours and the anti-aliasing between them) and maps every other
// to the nearest: a PNG a third of the size, that looks the same.
func paletted(img image.Image) *image.Paletted {
	b := img.Bounds()
	count := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			count[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	cs := make([]color.RGBA, 0, len(count))
	for c := range count {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool {
		if count[cs[i]] != count[cs[j]] {
			return count[cs[i]] > count[cs[j]]
		}
		return fmt.Sprint(cs[i]) < fmt.Sprint(cs[j])
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range cs[:min(len(cs), 256)] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, img.At(x, y)) // Set takes the nearest colour of the palette
		}
	}
	return out
}
