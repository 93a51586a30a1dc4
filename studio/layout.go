package studio

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// layout is the one page every page of the studio is: the head, the
// navigation and the skip link once, the page's title, heading and script
// hook filled in. Each page's content is drawn by app.js from its /api/
// endpoint.
var layout = template.Must(template.New("layout.html").Funcs(template.FuncMap{
	"stamp": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	"count": func(n int) string {
		s := strconv.Itoa(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	},
}).ParseFS(webFS, "web/layout.html"))

// page is one page of the studio.
type page struct {
	Name    string // data-page: which renderer of app.js draws it
	Path    string // where the navigation links (empty: not in it)
	Label   string // its name in the navigation
	Title   string // the document title, before " - Score Studio"
	Heading string
}

// pages are the studio's pages; those with a Path are in the navigation,
// in this order.
var pages = []page{
	{Name: "overview", Path: "/", Label: "Overview", Title: "Overview", Heading: "Overview of the live rules"},
	{Name: "preview", Path: "/preview", Label: "Preview a change", Title: "Preview a change", Heading: "Preview a rule change"},
	{Name: "calibration", Path: "/calibration", Label: "Calibration", Title: "Calibration", Heading: "Calibration"},
	{Name: "bridge", Path: "/bridge", Label: "Bridge", Title: "Bridge", Heading: "Bridge"},
	{Name: "live", Path: "/live", Label: "Live", Title: "Live", Heading: "Live scorer"},
	{Name: "contact", Title: "Contact", Heading: "Contact"},
	{Name: "company", Title: "Company", Heading: "Company"},
}

// layoutData is what the layout is executed with.
type layoutData struct {
	page
	Nav []page
	// Message replaces the page's content: the not found page.
	Message string
	// Status is what the studio has loaded and when.
	Status LoadStatus
}

func pageNamed(name string) page {
	for _, p := range pages {
		if p.Name == name {
			return p
		}
	}
	panic("studio: no page " + name)
}

func navigation() []page {
	var nav []page
	for _, p := range pages {
		if p.Path != "" {
			nav = append(nav, p)
		}
	}
	return nav
}

// render writes the layout for d with status code.
func render(w http.ResponseWriter, code int, d layoutData) {
	d.Nav = navigation()
	var b bytes.Buffer
	if err := layout.Execute(&b, d); err != nil {
		http.Error(w, "the page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// servePage serves one of the pages.
func servePage(name string) func(*Server, http.ResponseWriter, *http.Request) {
	p := pageNamed(name)
	return func(s *Server, w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, layoutData{page: p, Status: s.status()})
	}
}
