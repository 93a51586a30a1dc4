package studio

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/scorebridge/scorebridge/backtest"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/scoring"
)

//go:embed web
var webFS embed.FS

// MaxRuleBytes bounds a rule file sent to the preview (an upload or an
// edit): a rule file is a few kilobytes; anything near this is a mistake.
const MaxRuleBytes = 256 << 10

// Config is what the studio serves.
type Config struct {
	// Rules are the live rule files or directories (read, never written).
	Rules []string
	// History is the engagement history every page scores (calibration
	// too), held in memory; Source names it for people.
	History *backtest.History
	Source  string
	// ScorerURL and BridgeURL are the services' HTTP addresses (empty:
	// their pages say they are not configured).
	ScorerURL, BridgeURL string
	// BridgeToken is the bridge's API token (its /decisions and /quota
	// are guarded when it has one); sent only to BridgeURL, never logged.
	BridgeToken string
	// Watch is the events file the history was read from: when its size
	// or modification time changes, a page load reads it again through
	// Reload. Empty (a ClickHouse history): only on request.
	Watch string
	// Reload reads the history again (nil: it is read once).
	Reload func() (*backtest.History, error)
	// Token, when set, is required on every request.
	Token  string
	Client *http.Client
	Log    zerolog.Logger
}

// Server is the studio: the live rules, their backtest over the history
// (kept: a preview scores only the new rules), and the handlers. A
// request runs on a Server of its own (current): the shared parts and the
// state in force when it started, which it keeps to the end.
type Server struct {
	*shared
	// *state is what this request answers from; nil in the Server New
	// returns (its requests take theirs from cur).
	*state
}

// shared is what every request shares.
type shared struct {
	cfg Config
	mux *http.ServeMux

	// cur is the state in force. A request takes it once, when it
	// starts; a reload builds the next state aside (no lock held, no
	// request waiting for it) and stores it: requests under way finish on
	// the state they took, new ones take the new one.
	cur atomic.Pointer[state]
	// reloadMu admits one reload at a time.
	reloadMu sync.Mutex

	liveMu   sync.Mutex
	lastLive *sample

	// scoring admits one re-scoring of the whole history at a time
	// (previews, simulations, calibrations, reloads): each already uses
	// every core, and two at once would only make both slow and double
	// the memory.
	scoring chan struct{}
	// waiting counts the requests and reloads waiting for the slot.
	waiting atomic.Int32
}

// current is the Server a request runs on: the state in force now.
func (s *Server) current() *Server { return &Server{shared: s.shared, state: s.cur.Load()} }

// on runs a handler on the state in force when the request reaches it.
func (s *Server) on(h func(*Server, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h(s.current(), w, r) }
}

// state is what the studio answers from: the history and the last good
// live rules scored over it.
type state struct {
	history  *backtest.History
	files    []ruleFile
	set      *rules.Set // nil while no rules ever loaded
	engine   *scoring.Engine
	problems []Problem // of the rule files as they are now
	lines    []backtest.Line
	sum      backtest.Summary
	elapsed  time.Duration
	types    []string // the history's event types

	companies *companies // nil without company models

	// loadedAt is when the rules in force were loaded; failedAt when the
	// rule files last failed to load (zero: they load), problems are
	// then theirs and the rules in force the last good ones.
	loadedAt, failedAt time.Time
	// historyAt is when the history was read; historyErr why the last
	// reading failed (the history before it is kept).
	historyAt  time.Time
	historyErr string
	// rulesStamp and historyStamp are the names, sizes and modification
	// times of the rule files and of the events file when last read.
	rulesStamp, historyStamp string

	// asOf is the company models' last answer at an as-of time, over
	// this state's history and rules.
	asOf *asOfCache
}

// asOfCache keeps one as-of answer of the company models.
type asOfCache struct {
	mu  sync.Mutex
	at  time.Time
	ans *companies
}

// busy waits for the scoring slot, or gives up with the request.
func (s *Server) busy(r *http.Request) (release func(), ok bool) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case s.scoring <- struct{}{}:
		return func() { <-s.scoring }, true
	case <-r.Context().Done():
		return nil, false
	}
}

// ruleFile is one live rule file: its path and text.
type ruleFile struct {
	Path string `json:"path"`
	Name string `json:"name"`
	Text string `json:"text"`
}

// Problem is a rule-check problem as the pages show it: the place, then
// the message, as `scorer rules check` prints it.
type Problem struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Group string `json:"group,omitempty"`
	Msg   string `json:"message"`
	Text  string `json:"text"` // the whole line of rules check
}

func problemsOf(err error, rename func(string) string) []Problem {
	var ps rules.Problems
	if !errors.As(err, &ps) {
		return []Problem{{Msg: err.Error(), Text: err.Error()}}
	}
	out := make([]Problem, 0, len(ps))
	for _, p := range ps {
		p.File = rename(p.File)
		out = append(out, Problem{File: p.File, Line: p.Line, Group: p.Group, Msg: p.Msg, Text: p.String()})
	}
	return out
}

// New loads the live rules and backtests them over the history. Rules
// with problems are not an error: the overview shows them.
func New(cfg Config) (*Server, error) {
	if cfg.History == nil {
		return nil, errors.New("studio: no history")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	s := &Server{shared: &shared{cfg: cfg, scoring: make(chan struct{}, 1)}}
	now := time.Now().UTC()
	st := &state{history: cfg.History, historyAt: now, types: cfg.History.Types(), asOf: &asOfCache{}}
	if cfg.Watch != "" {
		st.historyStamp = stampFiles([]string{cfg.Watch})
	}
	st.rulesStamp = stampFiles(cfg.Rules)
	files, err := readRuleFiles(cfg.Rules)
	if err != nil {
		return nil, err
	}
	st.files = files
	set, e, problems := loadRules(cfg.Rules)
	if set == nil {
		st.problems = problems
	} else {
		st.set, st.engine, st.loadedAt = set, e, now
		if err := st.score(); err != nil {
			return nil, err
		}
	}
	s.cur.Store(st)
	s.routes()
	return s, nil
}

// loadRules loads rule files; problems when they do not load.
func loadRules(paths []string) (*rules.Set, *scoring.Engine, []Problem) {
	set, err := rules.Load(paths...)
	var e *scoring.Engine
	if err == nil {
		e, err = scoring.NewEngine(set)
	}
	if err != nil {
		return nil, nil, problemsOf(err, func(f string) string { return f })
	}
	return set, e, nil
}

// score backtests the rules in force over the history, and their company
// models.
func (st *state) score() error {
	start := time.Now()
	st.lines, st.companies = nil, nil
	var err error
	st.sum, err = st.history.Run(st.engine, backtest.Options{NoGroups: true}, func(l backtest.Line) error {
		st.lines = append(st.lines, l)
		return nil
	})
	if err != nil {
		return err
	}
	st.elapsed = time.Since(start)
	if len(st.set.Companies) > 0 {
		st.companies = newCompanies(st.history.CompanyScores(st.engine, time.Time{}))
		st.companies.top = topOf(st.set, st.companies)
	}
	return nil
}

func readRuleFiles(paths []string) ([]ruleFile, error) {
	var out []ruleFile
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("rules %s: %w", p, err)
		}
		list := []string{p}
		if st.IsDir() {
			list = nil
			for _, pat := range []string{"*.yaml", "*.yml"} {
				m, _ := filepath.Glob(filepath.Join(p, pat))
				list = append(list, m...)
			}
		}
		for _, f := range list {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("rules %s: %w", f, err)
			}
			out = append(out, ruleFile{Path: f, Name: filepath.Base(f), Text: string(b)})
		}
	}
	return out, nil
}

// Handler serves the pages, their assets and the API.
func (s *Server) Handler() http.Handler { return s.auth(http.HandlerFunc(s.serve)) }

// serve runs a request. A page load first reads again what changed,
// unless a reload is under way: then it answers from the state in force
// rather than wait for that reload (which may wait behind a preview).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/reload" && r.Method == http.MethodPost {
		s.apiReload(w, r)
		return
	}
	if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/assets/") && s.reloadMu.TryLock() {
		s.reloadLocked(r.Context(), false, false)
		s.reloadMu.Unlock()
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	assets := http.FileServerFS(static)

	s.mux.Handle("GET /assets/", assets)
	s.mux.HandleFunc("GET /{$}", s.on(servePage("overview")))
	s.mux.HandleFunc("GET /contacts/{id}", s.on(servePage("contact")))
	s.mux.HandleFunc("GET /contacts/", s.on(servePage("contact")))
	s.mux.HandleFunc("GET /companies/{id}", s.on(servePage("company")))
	s.mux.HandleFunc("GET /api/companies/{id}", s.on((*Server).apiCompany))
	s.mux.HandleFunc("GET /preview", s.on(servePage("preview")))
	s.mux.HandleFunc("GET /bridge", s.on(servePage("bridge")))
	s.mux.HandleFunc("GET /live", s.on(servePage("live")))
	s.mux.HandleFunc("GET /calibration", s.on(servePage("calibration")))
	s.mux.HandleFunc("GET /api/overview", s.on((*Server).apiOverview))
	s.mux.HandleFunc("GET /api/contacts/{id}", s.on((*Server).apiContact))
	s.mux.HandleFunc("GET /api/rules", s.on((*Server).apiRules))
	s.mux.HandleFunc("POST /api/preview", s.on((*Server).apiPreview))
	s.mux.HandleFunc("POST /api/preview/save", s.on((*Server).apiSave))
	s.mux.HandleFunc("GET /api/bridge", s.on((*Server).apiBridge))
	s.mux.HandleFunc("GET /api/live", s.on((*Server).apiLive))
	s.mux.HandleFunc("GET /api/calibration", s.on((*Server).apiCalibration))
	s.mux.HandleFunc("GET /api/calibration/fit", s.on((*Server).apiFit))
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	})
	s.mux.HandleFunc("/", s.on(func(s *Server, w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusNotFound, layoutData{page: page{Name: "notfound", Title: "Not found", Heading: "Not found"},
			Message: "There is no page at " + r.URL.Path + ".", Status: s.status()})
	}))
}

// tokenCookie carries the token after a page was opened with ?token=, so
// that the page's own requests need not repeat it.
const tokenCookie = "studio_token"

// auth requires the token, when one is set, on every request: as a bearer
// header, the cookie, or ?token= (which sets the cookie).
func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return next
	}
	want := []byte(s.cfg.Token)
	ok := func(got string) bool { return got != "" && subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("token"); ok(q) {
			http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			next.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if h := r.Header.Get("Authorization"); ok(strings.TrimPrefix(h, "Bearer ")) && strings.HasPrefix(h, "Bearer ") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="studio"`)
		fail(w, http.StatusUnauthorized, "this studio needs its token: open it with ?token=... or send Authorization: Bearer ...")
	})
}

// IsLoopback says whether a listen address only accepts local clients.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// apiError is every API error's body: a message a person can act on.
type apiError struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(apiError{Error: fmt.Sprintf(format, args...)})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// An error here is the client gone: the status is already sent.
	_ = json.NewEncoder(w).Encode(v)
}

// Overview is GET /api/overview: the live rules over the history.
type Overview struct {
	RulesVersion string       `json:"rules_version"`
	RuleFiles    []string     `json:"rule_files"`
	Problems     []Problem    `json:"problems"`
	Source       string       `json:"source"`
	History      HistoryStats `json:"history"`
	Models       []ModelStats `json:"models"`
	BacktestMS   int64        `json:"backtest_ms"`
	// Companies are the top companies by their score in the first company
	// model (none without company models).
	Companies []CompanySummary `json:"companies"`
	// Loaded is what is loaded and when (the rules in force may be the
	// last good ones: then Problems are the rule files' now).
	Loaded LoadStatus `json:"loaded"`
}

// HistoryStats describes the history scored.
type HistoryStats struct {
	Lines      int       `json:"lines"`
	Events     int       `json:"events"` // counted: duplicates excluded
	Duplicates int       `json:"duplicates"`
	BadLines   int       `json:"bad_lines"`
	Contacts   int       `json:"contacts"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
}

func (s *Server) historyStats() HistoryStats {
	h := s.history
	first, last := h.Span()
	st := HistoryStats{Lines: h.Lines(), BadLines: len(h.BadLines()), Contacts: h.Contacts(), First: first, Last: last}
	if s.set != nil {
		st.Events, st.Duplicates = s.sum.Events, s.sum.Duplicates
	}
	return st
}

func (s *Server) apiOverview(w http.ResponseWriter, r *http.Request) {
	o := Overview{Problems: s.problems, Source: s.cfg.Source, History: s.historyStats(), Models: []ModelStats{}, BacktestMS: s.elapsed.Milliseconds(), Loaded: s.status()}
	if o.Problems == nil {
		o.Problems = []Problem{}
	}
	for _, f := range s.files {
		o.RuleFiles = append(o.RuleFiles, f.Path)
	}
	if s.set != nil {
		o.RulesVersion = s.set.Version
		per := byModel(s.lines)
		for _, m := range s.set.Models {
			ls := per[m.Name]
			o.Models = append(o.Models, modelStats(m, ls, edges(scoresOf(ls), thresholdsOf(m))))
		}
	}
	o.Companies = []CompanySummary{}
	if s.companies != nil {
		o.Companies = s.companies.top
	}
	reply(w, o)
}

func (s *Server) apiRules(w http.ResponseWriter, r *http.Request) {
	reply(w, map[string]any{"files": s.files})
}

// fetch GETs a service's endpoint.
func (s *Server) fetch(base, path string) ([]byte, error) {
	// The query stays a query: url.JoinPath would escape its "?" into
	// the path, and the service would answer 404.
	p, query, _ := strings.Cut(path, "?")
	u, err := url.JoinPath(base, p)
	if err != nil {
		return nil, err
	}
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if base == s.cfg.BridgeURL && s.cfg.BridgeToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.BridgeToken)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}
