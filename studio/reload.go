package studio

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// stampFiles is the names, sizes and modification times of the given
// files and of the rule files in the given directories: a stat of each,
// cheap enough for every page load.
func stampFiles(paths []string) string {
	var b strings.Builder
	add := func(p string) {
		st, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(&b, "%s missing\n", p)
			return
		}
		fmt.Fprintf(&b, "%s %d %d\n", p, st.Size(), st.ModTime().UnixNano())
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			add(p)
			continue
		}
		var list []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			list = append(list, m...)
		}
		sort.Strings(list)
		for _, f := range list {
			add(f)
		}
	}
	return b.String()
}

// LoadStatus is what the studio has loaded and when: every page shows it.
type LoadStatus struct {
	RulesVersion  string    `json:"rules_version"`
	RulesLoadedAt time.Time `json:"rules_loaded_at"`
	// RulesFailedAt is set when the rule files stopped loading: Problems
	// are theirs, and the rules in force are the last good ones.
	RulesFailedAt *time.Time `json:"rules_failed_at"`
	Problems      []Problem  `json:"problems"`
	HistoryReadAt time.Time  `json:"history_read_at"`
	HistoryEvents int        `json:"history_events"`
	HistoryError  string     `json:"history_error,omitempty"`
	// HistoryOnRequest: the history is read again only on request (a
	// ClickHouse history); else when its file changes.
	HistoryOnRequest bool `json:"history_on_request"`
}

// status says what is loaded in the request's state.
func (s *Server) status() LoadStatus {
	st := LoadStatus{RulesLoadedAt: s.loadedAt, Problems: s.problems, HistoryReadAt: s.historyAt,
		HistoryEvents: s.history.Events(), HistoryError: s.historyErr, HistoryOnRequest: s.cfg.Reload != nil && s.cfg.Watch == ""}
	if s.set != nil {
		st.RulesVersion = s.set.Version
	}
	if !s.failedAt.IsZero() {
		at := s.failedAt
		st.RulesFailedAt = &at
	}
	if st.Problems == nil {
		st.Problems = []Problem{}
	}
	return st
}

// reload reads again the rules when their files changed (or always, with
// force) and the history when its file changed (or, with history, one
// read only on request), scores the rules in force over it and swaps the
// result in. Rules that stop loading keep the last good ones in force,
// with their problems shown; a history that cannot be read keeps the one
// held. It says whether anything was read again.
func (s *Server) reload(ctx context.Context, force, history bool) bool {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.reloadLocked(ctx, force, history)
}

// reloadLocked is reload; the caller holds reloadMu. The next state is
// built from a copy of the one in force, which requests go on answering
// from until it is stored.
func (s *Server) reloadLocked(ctx context.Context, force, history bool) bool {
	next := *s.cur.Load()
	rulesNow := stampFiles(s.cfg.Rules)
	historyNow := ""
	if s.cfg.Watch != "" {
		historyNow = stampFiles([]string{s.cfg.Watch})
	}
	readHistory := s.cfg.Reload != nil && (historyNow != next.historyStamp || history && s.cfg.Watch == "")
	readRules := force || rulesNow != next.rulesStamp
	if !readHistory && !readRules {
		return false
	}
	now := time.Now().UTC()
	rescore := false
	if readHistory {
		h, err := s.cfg.Reload()
		next.historyStamp = historyNow
		if err != nil {
			next.historyErr = fmt.Sprintf("reading the history again at %s: %v (the history read at %s is kept)", now.Format(time.RFC3339), err, next.historyAt.Format(time.RFC3339))
			s.cfg.Log.Error().Err(err).Msg("studio could not read the history again")
		} else {
			next.history, next.historyAt, next.historyErr, next.types = h, now, "", h.Types()
			rescore = true
			s.cfg.Log.Info().Str("history", h.String()).Msg("studio read the history again")
		}
	}
	if readRules {
		next.rulesStamp = rulesNow
		files, err := readRuleFiles(s.cfg.Rules)
		set, e, problems := loadRules(s.cfg.Rules)
		if err != nil {
			set, problems = nil, []Problem{{Msg: err.Error(), Text: err.Error()}}
		}
		if set == nil {
			next.problems = problems
			if next.set != nil {
				next.failedAt = now
			}
			s.cfg.Log.Warn().Int("problems", len(problems)).Msg("studio: the rule files do not load; the last good rules stay in force")
		} else {
			if next.set == nil || set.Version != next.set.Version {
				rescore = true
			}
			next.files, next.set, next.engine, next.problems, next.failedAt, next.loadedAt = files, set, e, nil, time.Time{}, now
			s.cfg.Log.Info().Str("rules_version", set.Version).Msg("studio loaded the rules")
		}
	}
	if rescore && next.set != nil {
		// The scoring slot, not the lock: requests go on meanwhile on the
		// state they have, and none waits for a swap while holding the slot.
		s.waiting.Add(1)
		select {
		case s.scoring <- struct{}{}:
			s.waiting.Add(-1)
		case <-ctx.Done():
			s.waiting.Add(-1)
			return false
		}
		err := next.score()
		<-s.scoring
		if err != nil {
			s.cfg.Log.Error().Err(err).Msg("studio could not score the reloaded rules")
			return false
		}
	}
	next.asOf = &asOfCache{}
	s.cur.Store(&next)
	return true
}

// apiReload is POST /api/reload: read the rules again (and, with
// ?history=1, the history when it is read only on request, or when its
// file changed), then answer what is loaded.
func (s *Server) apiReload(w http.ResponseWriter, r *http.Request) {
	changed := s.reload(r.Context(), true, r.URL.Query().Get("history") == "1")
	reply(w, map[string]any{"reloaded": changed, "status": s.current().status()})
}
