// Score Studio: every page renders what its /api/ endpoint returns.
// Plain JavaScript, inline SVG charts, nothing fetched from elsewhere.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const content = () => $("#content");

// el builds an element: el("td", {class: "num"}, "12").
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined) e.setAttribute(k, v);
  for (const k of kids.flat()) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function showError(msg) {
  const box = $("#error");
  box.textContent = msg;
  box.hidden = !msg;
}
function status(msg) { $("#status").textContent = msg || ""; }

// api fetches JSON; an error answer's message becomes the exception.
async function api(path, opts) {
  let resp;
  try {
    resp = await fetch(path, Object.assign({ headers: { "Content-Type": "application/json" } }, opts || {}));
  } catch (e) {
    throw new Error("The studio did not answer (" + e.message + "). Is `scorer studio` still running?");
  }
  let body;
  try { body = await resp.json(); } catch (e) { throw new Error("The studio answered " + resp.status + " " + resp.statusText + " without a readable body."); }
  if (!resp.ok) throw new Error(body.error || ("The studio answered " + resp.status));
  return body;
}

const fmt = (x, digits = 2) => {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  return Number.isInteger(x) ? x.toLocaleString("en-US") : x.toLocaleString("en-US", { maximumFractionDigits: digits });
};
// pts prints points exactly as the backtest gives them.
const pts = (x) => (x === null || x === undefined) ? "–" : String(x);
const signed = (x) => (x > 0 ? "+" : "") + pts(x);
const day = (t) => t ? String(t).slice(0, 10) : "–";
const stamp = (t) => t ? String(t).replace("T", " ").replace("Z", " UTC") : "–";
const companyLink = (id) => el("a", { href: "/companies/" + encodeURIComponent(id) }, id);
const contactLink = (id) => el("a", { href: "/contacts/" + encodeURIComponent(id) }, id);

function card(k, v, attrs) {
  return el("div", Object.assign({ class: "card" }, attrs || {}), el("span", { class: "k" }, k), el("span", { class: "v" }, v));
}

// table renders rows; cols: [{h, num, get(row) -> node|text, key(row) -> sortable}].
function table(caption, cols, rows, opts = {}) {
  const t = el("table", opts.attrs || {});
  if (caption) t.append(el("caption", {}, caption));
  const thead = el("thead");
  const tbody = el("tbody");
  const render = (list) => {
    tbody.replaceChildren(...list.map((r) => el("tr", opts.rowAttrs ? opts.rowAttrs(r) : {},
      cols.map((c) => el("td", Object.assign({ class: c.num ? "num" : undefined }, c.attrs ? c.attrs(r) : {}), c.get(r))))));
  };
  const hr = el("tr");
  cols.forEach((c, i) => {
    const th = el("th", { scope: "col", class: c.num ? "num" : undefined });
    if (opts.sortable && c.key) {
      const b = el("button", { type: "button" }, c.h);
      b.addEventListener("click", () => {
        const dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
        hr.querySelectorAll("th").forEach((x) => x.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", dir);
        const s = rows.slice().sort((a, b2) => {
          const x = c.key(a), y = c.key(b2);
          const d = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
          return dir === "ascending" ? d : -d;
        });
        render(s);
      });
      th.append(b);
    } else th.append(c.h);
    hr.append(th);
  });
  thead.append(hr);
  t.append(thead, tbody);
  render(rows);
  if (opts.total) tbody.append(opts.total);
  return el("div", { class: "scroll" }, t);
}

// ---- charts ----

// histogram draws bins (one or two series) with threshold lines.
function histogramChart(title, series, thresholds) {
  const W = 860, H = 260, L = 48, R = 12, T = 22, B = 36;
  const bins = series[0].bins;
  const n = bins.length;
  const maxC = Math.max(1, ...series.flatMap((s) => s.bins.map((b) => b.count)));
  const lo = bins[0].lo, hi = bins[n - 1].hi;
  const x = (v) => L + (v - lo) / (hi - lo) * (W - L - R);
  const y = (c) => H - B - c / maxC * (H - T - B);
  const desc = series.map((s) => s.name + ": " + s.bins.filter((b) => b.count).map((b) => `${fmt(b.lo)} to ${fmt(b.hi)}: ${b.count}`).join(", ")).join(". ");
  const g = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title + ". " + desc });
  g.append(svg("title", {}, title));
  g.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  for (const f of [0, 0.5, 1]) {
    const c = Math.round(maxC * f);
    g.append(svg("text", { x: L - 6, y: y(c) + 4, "text-anchor": "end" }, fmt(c)));
  }
  const bw = (W - L - R) / n;
  series.forEach((s, si) => {
    s.bins.forEach((b, i) => {
      const w = series.length > 1 ? bw / 2 - 1 : bw - 2;
      const bx = x(b.lo) + 1 + (series.length > 1 ? si * bw / 2 : 0);
      g.append(svg("rect", { class: "bar" + (s.before ? " before" : ""), x: bx, y: y(b.count), width: Math.max(1, w), height: H - B - y(b.count) },
        svg("title", {}, `${s.name}: ${b.count} contacts with ${fmt(b.lo)} ≤ score < ${fmt(b.hi)}`)));
    });
  });
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i <= n; i += step) {
    const v = i < n ? bins[i].lo : hi;
    g.append(svg("text", { x: x(v), y: H - B + 16, "text-anchor": "middle" }, fmt(v)));
  }
  g.append(svg("text", { x: (L + W) / 2, y: H - 4, "text-anchor": "middle" }, "score"));
  for (const t of thresholds || []) {
    if (t.at < lo || t.at > hi) continue;
    g.append(svg("line", { class: "th", x1: x(t.at), x2: x(t.at), y1: T - 6, y2: H - B }));
    g.append(svg("text", { class: "th-label", x: x(t.at) + 4, y: T + 4 }, `${t.name} ${fmt(t.at)}`));
  }
  return g;
}

// weeksChart draws crossings per week, before and after when given two.
function weeksChart(title, series) {
  const W = 860, H = 220, L = 48, R = 12, T = 14, B = 36;
  const keys = [...new Set(series.flatMap((s) => s.weeks.map((w) => w.week)))].sort();
  const g = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
  if (!keys.length) {
    g.setAttribute("aria-label", title + ": no crossings");
    g.append(svg("title", {}, title), svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no crossings"));
    return g;
  }
  const get = (s, k) => (s.weeks.find((w) => w.week === k) || { total: 0 }).total;
  const maxC = Math.max(1, ...series.flatMap((s) => keys.map((k) => get(s, k))));
  const bw = (W - L - R) / keys.length;
  const y = (c) => H - B - c / maxC * (H - T - B);
  g.setAttribute("aria-label", title + ". " + series.map((s) => s.name + ": " + keys.map((k) => `week of ${k}: ${get(s, k)}`).join(", ")).join(". "));
  g.append(svg("title", {}, title));
  g.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  g.append(svg("text", { x: L - 6, y: y(maxC) + 4, "text-anchor": "end" }, fmt(maxC)));
  g.append(svg("text", { x: L - 6, y: y(0) + 4, "text-anchor": "end" }, "0"));
  keys.forEach((k, i) => {
    series.forEach((s, si) => {
      const c = get(s, k);
      const w = (bw - 4) / series.length;
      g.append(svg("rect", { class: "bar" + (s.before ? " before" : ""), x: L + i * bw + 2 + si * w, y: y(c), width: Math.max(1, w - 1), height: H - B - y(c) },
        svg("title", {}, `${s.name}, week of ${k}: ${c} crossings`)));
    });
    if (keys.length <= 16 || i % Math.ceil(keys.length / 12) === 0)
      g.append(svg("text", { x: L + i * bw + bw / 2, y: H - B + 16, "text-anchor": "middle" }, k.slice(5)));
  });
  return g;
}

// lineChart draws the score after each event with thresholds and crossings.
function lineChart(title, points, thresholds, crossings) {
  const W = 860, H = 260, L = 48, R = 12, T = 16, B = 36;
  const g = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" });
  g.append(svg("title", {}, title));
  if (!points.length) { g.setAttribute("aria-label", title + ": no counted events"); return g; }
  const ts = points.map((p) => Date.parse(p.at));
  const t0 = Math.min(...ts), t1 = Math.max(...ts, t0 + 1);
  const vals = points.map((p) => p.score).concat((thresholds || []).map((t) => t.at), [0]);
  const lo = Math.min(...vals), hi = Math.max(...vals, lo + 1);
  const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
  const y = (v) => H - B - (v - lo) / (hi - lo) * (H - T - B);
  g.setAttribute("aria-label", `${title}. ${points.length} events from ${day(points[0].at)} to ${day(points[points.length - 1].at)}; score now ${points[points.length - 1].score}; ${crossings.length} crossings.`);
  g.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: y(lo), y2: y(lo) }));
  for (const v of [lo, (lo + hi) / 2, hi]) g.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v, 1)));
  g.append(svg("text", { x: L, y: H - 8 }, day(points[0].at)));
  g.append(svg("text", { x: W - R, y: H - 8, "text-anchor": "end" }, day(points[points.length - 1].at)));
  for (const t of thresholds || []) {
    g.append(svg("line", { class: "th", x1: L, x2: W - R, y1: y(t.at), y2: y(t.at) }));
    g.append(svg("text", { class: "th-label", x: W - R - 4, y: y(t.at) - 4, "text-anchor": "end" }, `${t.name} ${fmt(t.at)}`));
  }
  let d = "";
  points.forEach((p, i) => {
    const px = x(ts[i]), py = y(p.score);
    d += i === 0 ? `M${px},${py}` : ` H${px} V${py}`; // a step: the score holds until the next event
  });
  g.append(svg("path", { class: "line", d }));
  for (const c of crossings) {
    g.append(svg("circle", { class: "mark", cx: x(Date.parse(c.at)), cy: y(c.score), r: 6 },
      svg("title", {}, `crossed ${c.threshold} on ${stamp(c.at)} by ${c.event_id} (score ${c.score})`)));
  }
  return g;
}

function legend(items) {
  return el("div", { class: "legend", "aria-hidden": "true" }, items.map(([cls, text]) => el("span", { class: cls }, text)));
}

// ---- pages ----

async function overview() {
  const o = await api("/api/overview");
  const c = content();
  status(`Rules ${o.rules_version || "(not loaded)"} over ${o.source}: backtest took ${fmt(o.backtest_ms)} ms.`);
  const h = o.history;
  c.append(el("div", { class: "cards" },
    card("Rules version", o.rules_version || "–", { "data-testid": "rules-version" }),
    card("Contacts", fmt(h.contacts), { "data-testid": "contacts" }),
    card("Events counted", fmt(h.events), { "data-testid": "events" }),
    card("Duplicates", fmt(h.duplicates)),
    card("Bad lines", fmt(h.bad_lines), { "data-testid": "bad-lines" }),
    card("History", `${day(h.first)} – ${day(h.last)}`)));
  const form = el("form", { class: "inline", role: "search", onsubmit: (e) => { e.preventDefault(); const id = $("#contact-id").value.trim(); if (id) location.href = "/contacts/" + encodeURIComponent(id); } },
    el("div", {}, el("label", { for: "contact-id" }, "Look up a contact"), el("input", { id: "contact-id", type: "search", placeholder: "c-000123", autocomplete: "off" })),
    el("button", { class: "primary", type: "submit" }, "Show contact"));
  c.append(form);
  if (o.companies.length) {
    c.append(el("h2", {}, "Top companies"));
    c.append(table(`By ${o.companies[0].model} score`, [
      { h: "Company", get: (r) => companyLink(r.company_id) },
      { h: "Score", num: true, get: (r) => pts(r.score), attrs: () => ({ "data-testid": "company-score" }) },
      { h: "Members", num: true, get: (r) => fmt(r.members) },
      { h: "Crossings", num: true, get: (r) => fmt(r.crossings) },
    ], o.companies, { attrs: { "data-testid": "top-companies" } }));
  }
  c.append(el("h2", {}, "Rule check"));
  if (o.problems.length) {
    c.append(el("ul", { class: "problems", "data-testid": "problems" }, o.problems.map((p) => el("li", {}, p.text))));
  } else {
    c.append(el("p", { class: "ok", "data-testid": "problems" }, `No problems: ${o.rule_files.length} rule files (${o.rule_files.join(", ")}).`));
  }
  for (const m of o.models) {
    const sec = el("section", { "aria-labelledby": "m-" + m.name, "data-model": m.name });
    sec.append(el("h2", { id: "m-" + m.name }, `Model ${m.name}`));
    sec.append(el("p", { class: "note" }, `${m.file}: ${m.groups} groups` + (m.half_life ? `, contributions halve every ${m.half_life}` : "") + "."));
    sec.append(el("div", { class: "cards" },
      card("Contacts scored", fmt(m.contacts), { "data-testid": "model-contacts" }),
      card("Mean score", fmt(m.mean), { "data-testid": "model-mean" }),
      card("Highest score", pts(m.max), { "data-testid": "model-max" })));
    sec.append(table("Thresholds", [
      { h: "Threshold", get: (t) => t.name },
      { h: "Score", num: true, get: (t) => pts(t.at) },
      { h: "Re-arms below", num: true, get: (t) => pts(t.rearm_below) },
      { h: "At or above now", num: true, get: (t) => fmt(m.at_or_above[t.name]), attrs: (t) => ({ "data-testid": "at-or-above", "data-threshold": t.name }) },
      { h: "Contacts that crossed", num: true, get: (t) => fmt(m.crossed[t.name]), attrs: (t) => ({ "data-testid": "crossed", "data-threshold": t.name }) },
      { h: "Crossings", num: true, get: (t) => fmt(m.crossings[t.name]), attrs: (t) => ({ "data-testid": "crossings", "data-threshold": t.name }) },
    ], m.thresholds));
    sec.append(el("h3", {}, "Score distribution"));
    sec.append(histogramChart(`Score distribution of ${m.name}`, [{ name: "contacts", bins: m.histogram }], m.thresholds));
    sec.append(legend([["", "contacts"], ["threshold", "threshold"]]));
    sec.append(el("details", {}, el("summary", {}, "Distribution as a table"),
      table(null, [{ h: "From", num: true, get: (b) => fmt(b.lo) }, { h: "Below", num: true, get: (b) => fmt(b.hi) }, { h: "Contacts", num: true, get: (b) => fmt(b.count), attrs: () => ({ "data-testid": "bin" }) }], m.histogram)));
    sec.append(el("h3", {}, "Crossings per week"));
    sec.append(weeksChart(`Crossings per week of ${m.name}`, [{ name: "crossings", weeks: m.weeks }]));
    sec.append(el("details", {}, el("summary", {}, "Crossings per week as a table"),
      table(null, [{ h: "Week of", get: (w) => w.week }].concat(m.thresholds.map((t) => ({ h: t.name, num: true, get: (w) => fmt(w.count[t.name] || 0) }))).concat([{ h: "Total", num: true, get: (w) => fmt(w.total) }]), m.weeks)));
    c.append(sec);
  }
}

async function contactPage() {
  const id = decodeURIComponent(location.pathname.replace(/^\/contacts\/?/, ""));
  if (!id) {
    document.title = "Contact - Score Studio";
    status("");
    showError("Which contact? Open /contacts/ID, or look one up on the overview.");
    return;
  }
  $("#title").textContent = "Contact " + id;
  document.title = `Contact ${id} - Score Studio`;
  let v;
  try { v = await api("/api/contacts/" + encodeURIComponent(id)); } catch (e) { status(""); throw e; }
  const c = content();
  status(`Scored at ${stamp(v.at)} (the contact's latest event) under rules ${v.rules_version}; ${v.events.length} events.`);
  if (v.company_id) c.append(el("p", { "data-testid": "company" }, "Company: ", companyLink(v.company_id)));
  c.append(el("div", { class: "cards" }, v.models.map((m) => card(`${m.name} score`, m.score_text, { "data-testid": "score", "data-model": m.name }))));
  for (const m of v.models) {
    const sec = el("section", { "aria-labelledby": "m-" + m.name, "data-model": m.name });
    sec.append(el("h2", { id: "m-" + m.name }, `${m.name}: ${m.score_text} points`));
    if (m.half_life) sec.append(el("p", { class: "note" }, `Contributions halve every ${m.half_life}; the ledger shows each at ${stamp(v.at)}.`));
    sec.append(lineChart(`Score of ${id} in ${m.name} after each event`, m.series, m.thresholds, m.crossings));
    sec.append(legend([["", "score"], ["threshold", "threshold (dots: crossings)"]]));
    sec.append(el("h3", {}, "Why this score: the ledger"));
    const total = el("tr", { class: "total" }, el("td", {}, "Score"), el("td", { class: "num", "data-testid": "ledger-total" }, m.score_text));
    sec.append(table(`Points that add up to ${m.score_text}`, [
      { h: "Part", get: (r) => r.label },
      { h: "Points", num: true, get: (r) => r.text, attrs: () => ({ "data-testid": "ledger-row" }) },
    ], m.ledger, { total }));
    sec.append(el("h3", {}, "Group by group"));
    if (!m.groups.length) sec.append(el("p", { class: "note" }, "No event of this contact matches a group of this model."));
    for (const g of m.groups) {
      const d = el("details", {}, el("summary", {}, `${g.name}: ${g.sum} points` + (g.cap ? ` (raw ${g.raw}, capped at ${g.cap})` : "") + `, ${g.counted.length} events counted` + (g.dropped.length ? `, ${g.dropped.length} not counted` : "")));
      d.append(table(null, [
        { h: "Event", get: (r) => r.event_id }, { h: "When", get: (r) => stamp(r.at) },
        { h: "Points", num: true, get: (r) => r.points }, { h: "Decay", num: true, get: (r) => r.factor === 1 ? "–" : r.factor.toFixed(6) },
        { h: "Counts", num: true, get: (r) => r.value },
      ], g.counted));
      if (g.dropped.length) d.append(table("Not counted", [{ h: "Event", get: (r) => r.event_id }, { h: "When", get: (r) => stamp(r.at) }, { h: "Why", get: (r) => r.reason }], g.dropped));
      sec.append(d);
    }
    sec.append(table("Threshold crossings", [
      { h: "Threshold", get: (r) => r.threshold }, { h: "When", get: (r) => stamp(r.at) }, { h: "By event", get: (r) => r.event_id }, { h: "Score", num: true, get: (r) => pts(r.score) },
    ], m.crossings));
    if (m.errors.length) sec.append(el("div", { class: "error" }, `${m.errors.length} expression errors (each is no match):\n` + m.errors.slice(0, 5).join("\n")));
    c.append(sec);
  }
  c.append(el("h2", {}, "What the bridge decided"));
  if (v.decisions_error) c.append(el("p", { class: "note", "data-testid": "decisions-note" }, v.decisions_error));
  else if (!v.decisions.length) c.append(el("p", { class: "note" }, "The bridge has no decision for this contact."));
  else c.append(table("Decisions", [
    { h: "When", get: (d) => stamp(d.decided_at) }, { h: "Model", get: (d) => d.model }, { h: "Outcome", get: (d) => d.outcome },
    { h: "Reason", get: (d) => d.reason }, { h: "Target", get: (d) => `${d.target_kind || ""} ${d.target_id || ""}` }, { h: "Sender", get: (d) => d.sender },
  ], v.decisions));
  c.append(el("h2", {}, "Events"));
  c.append(table(`${v.events.length} events, oldest first`, [
    { h: "When", get: (e) => stamp(e.at) }, { h: "Type", get: (e) => e.type }, { h: "Event", get: (e) => e.id },
    { h: "Properties", get: (e) => el("span", { class: "mono" }, e.properties ? JSON.stringify(e.properties) : "") },
  ], v.events));
}

const MAX_RULE_BYTES = 256 * 1024;

async function previewPage() {
  const rulesAnswer = await api("/api/rules");
  const files = rulesAnswer.files;
  status("Edit a copy of a rule file, then run the preview (Ctrl+Enter). The live rules are never written.");
  const c = content();
  const pick = el("select", { id: "rule-file" }, files.map((f) => el("option", { value: f.name }, f.name)), el("option", { value: "" }, "a new file…"));
  const newName = el("input", { id: "new-name", type: "text", value: "new-model.yaml", hidden: true, "aria-label": "Name of the new rule file" });
  const upload = el("input", { id: "upload", type: "file", accept: ".yaml,.yml,text/yaml,text/plain" });
  const text = el("textarea", { id: "rule-text", spellcheck: "false", "aria-describedby": "editor-help problems", wrap: "off" });
  const gutter = el("div", { class: "gutter", "aria-hidden": "true" });
  const run = el("button", { class: "primary", type: "button", id: "run-preview" }, "Run preview");
  const problems = el("div", { id: "problems", "aria-live": "polite" });
  const results = el("div", { id: "results" });
  const savePath = el("input", { id: "save-path", type: "text", placeholder: "/path/to/new-file.yaml" });
  const save = el("button", { class: "secondary", type: "button", id: "save" }, "Save as new file");
  const saveMsg = el("p", { id: "save-result", role: "status" });
  let bad = new Set();
  const fileName = () => pick.value || newName.value.trim();
  const drawGutter = () => {
    const n = text.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) => el("span", { class: bad.has(i + 1) ? "bad" : undefined }, i + 1)));
    gutter.scrollTop = text.scrollTop;
  };
  const load = () => {
    const f = files.find((x) => x.name === pick.value);
    newName.hidden = !!pick.value;
    text.value = f ? f.text : "model: new_model\nthreshold: 50\nrearm_below: 30\ngroups:\n  - name: demo_request\n    when: event.type == \"form_submitted\"\n    points: 20\n";
    bad = new Set(); drawGutter(); problems.replaceChildren(); results.replaceChildren();
  };
  pick.addEventListener("change", load);
  text.addEventListener("input", drawGutter);
  text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); doPreview(); }
  });
  upload.addEventListener("change", () => {
    const f = upload.files[0];
    if (!f) return;
    if (f.size > MAX_RULE_BYTES) {
      showError(`${f.name} is ${Math.round(f.size / 1024)} KiB: a rule file may be at most ${MAX_RULE_BYTES / 1024} KiB. Nothing was loaded.`);
      upload.value = "";
      return;
    }
    const r = new FileReader();
    r.onload = () => {
      showError("");
      const match = files.find((x) => x.name === f.name);
      pick.value = match ? match.name : "";
      newName.hidden = !!match;
      if (!match) newName.value = f.name;
      text.value = r.result; bad = new Set(); drawGutter();
      status(`Loaded ${f.name} (${f.size} bytes) into the editor; run the preview to see its effect.`);
    };
    r.onerror = () => showError(`Could not read ${f.name}: ${r.error}`);
    r.readAsText(f);
  });
  const goToLine = (line) => {
    const lines = text.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    text.focus();
    text.setSelectionRange(pos, pos + (lines[line - 1] || "").length);
    text.scrollTop = Math.max(0, (line - 5) * 19.5);
  };
  async function doPreview() {
    showError(""); run.disabled = true; problems.replaceChildren(); results.replaceChildren();
    status("Scoring the whole history under the edited rules…");
    const t0 = performance.now();
    try {
      if (text.value.length > MAX_RULE_BYTES) throw new Error(`The rule file is ${Math.round(text.value.length / 1024)} KiB: a rule file may be at most ${MAX_RULE_BYTES / 1024} KiB.`);
      const res = await api("/api/preview", { method: "POST", body: JSON.stringify({ file: fileName(), text: text.value }) });
      bad = new Set(res.problems.filter((p) => p.line).map((p) => p.line));
      drawGutter();
      if (!res.ok) {
        status(`${res.problems.length} problems: nothing was scored.`);
        problems.append(el("h2", {}, "Problems"), el("ul", { class: "problems", "data-testid": "problems" }, res.problems.map((p) =>
          el("li", {}, p.line ? el("button", { type: "button", onclick: () => goToLine(p.line) }, `${p.file} line ${p.line}`) : el("strong", {}, p.file), ": ", (p.group ? `group "${p.group}": ` : "") + p.message))));
        return;
      }
      problems.append(el("p", { class: "ok", "data-testid": "problems" }, `No problems: rules ${res.rules_version} → ${res.new_rules_version}.`));
      renderPreview(results, res);
      status(`Preview of ${res.file} over ${fmt(res.contacts)} contacts: ${fmt(res.elapsed_ms)} ms on the studio, ${fmt(Math.round(performance.now() - t0))} ms here.`);
    } catch (e) {
      status(""); showError(e.message);
    } finally { run.disabled = false; }
  }
  run.addEventListener("click", doPreview);
  save.addEventListener("click", async () => {
    saveMsg.textContent = ""; showError("");
    try {
      const r = await api("/api/preview/save", { method: "POST", body: JSON.stringify({ path: savePath.value.trim(), text: text.value }) });
      saveMsg.textContent = `Saved ${r.saved} (${r.bytes} bytes). The live rules are unchanged.`;
    } catch (e) { showError("Not saved: " + e.message); }
  });
  c.append(
    el("form", { class: "inline", onsubmit: (e) => e.preventDefault() },
      el("div", {}, el("label", { for: "rule-file" }, "Rule file to edit (a copy)"), pick, newName),
      el("div", {}, el("label", { for: "upload" }, "Or upload a rule file"), upload)),
    el("p", { id: "editor-help", class: "note" }, "YAML as in the rule files. Problems are reported with their line, as `scorer rules check` does."),
    el("label", { for: "rule-text" }, "Rule file"),
    el("div", { class: "editor" }, gutter, text),
    el("form", { class: "inline", onsubmit: (e) => e.preventDefault() }, run),
    problems, results,
    el("h2", {}, "Save"),
    el("form", { class: "inline", onsubmit: (e) => e.preventDefault() },
      el("div", {}, el("label", { for: "save-path" }, "Save the edited file as (a new path, outside the live rules)"), savePath), save),
    saveMsg);
  load();
}

function renderPreview(root, res) {
  root.append(el("h2", {}, "Effect over the history"));
  root.append(el("div", { class: "cards" },
    card("Contacts", fmt(res.contacts)),
    card("Scores that move", fmt(res.moved), { "data-testid": "moved" }),
    card("Newly cross a threshold", fmt(res.newly_crossing), { "data-testid": "newly-crossing" }),
    card("No longer cross one", fmt(res.no_longer_crossing), { "data-testid": "no-longer-crossing" })));
  for (const m of res.models) {
    const sec = el("section", { "aria-labelledby": "p-" + m.name, "data-model": m.name });
    sec.append(el("h3", { id: "p-" + m.name }, `Model ${m.name}`));
    sec.append(histogramChart(`Score distribution of ${m.name}, before and after`, [{ name: "before", before: true, bins: m.before }, { name: "after", bins: m.after }], m.thresholds.length ? m.thresholds : m.thresholds_before));
    sec.append(legend([["before", "current rules"], ["", "edited rules"], ["threshold", "threshold"]]));
    sec.append(weeksChart(`Crossings per week of ${m.name}, before and after`, [{ name: "before", before: true, weeks: m.weeks_before }, { name: "after", weeks: m.weeks_after }]));
    const sum = (ws) => ws.reduce((a, w) => a + w.total, 0);
    sec.append(el("p", { class: "note" }, `Crossings over the history: ${fmt(sum(m.weeks_before))} before, ${fmt(sum(m.weeks_after))} after.`));
    for (const ch of m.changes || []) {
      const cols = [
        { h: "Contact", get: (r) => contactLink(r.contact_id), key: (r) => r.contact_id },
        { h: "Before", num: true, get: (r) => pts(r.old), key: (r) => r.old ?? -1e18 },
        { h: "After", num: true, get: (r) => pts(r.new), key: (r) => r.new ?? -1e18 },
      ];
      const box = el("div", { class: "twocol" });
      box.append(el("div", {}, el("h4", {}, `Newly cross ${ch.threshold}: ${fmt(ch.newly_total)}`),
        ch.newly.length ? table(null, cols, ch.newly, { attrs: { "data-testid": "newly", "data-model": m.name, "data-threshold": ch.threshold } }) : el("p", { class: "note" }, "Nobody.")));
      box.append(el("div", {}, el("h4", {}, `No longer cross ${ch.threshold}: ${fmt(ch.no_longer_total)}`),
        ch.no_longer.length ? table(null, cols, ch.no_longer, { attrs: { "data-testid": "no-longer", "data-model": m.name, "data-threshold": ch.threshold } }) : el("p", { class: "note" }, "Nobody.")));
      sec.append(box);
    }
    root.append(sec);
  }
  root.append(el("h3", {}, `Scores that move (${fmt(res.movers_total)}` + (res.movers_total > res.movers.length ? `, the ${res.movers.length} largest shown` : "") + ")"));
  root.append(table("Click a column to sort", [
    { h: "Contact", get: (r) => contactLink(r.contact_id), key: (r) => r.contact_id },
    { h: "Model", get: (r) => r.model, key: (r) => r.model },
    { h: "Before", num: true, get: (r) => pts(r.old), key: (r) => r.old ?? -1e18 },
    { h: "After", num: true, get: (r) => pts(r.new), key: (r) => r.new ?? -1e18 },
    { h: "Change", num: true, get: (r) => el("span", { class: r.delta > 0 ? "pos" : "neg" }, signed(r.delta)), key: (r) => r.delta },
    { h: "Crossings", get: (r) => r.newly_crosses.map((t) => "+" + t).concat(r.no_longer_crosses.map((t) => "−" + t)).join(" "), key: (r) => r.newly_crosses.length - r.no_longer_crosses.length },
  ], res.movers, { sortable: true, attrs: { "data-testid": "movers" } }));
  if (res.companies) renderCompanyPreview(root, res.companies);
}

// renderCompanyPreview shows the edit's effect on the company models.
function renderCompanyPreview(root, pc) {
  root.append(el("h2", { id: "companies-effect" }, "Effect on the companies"));
  if (!pc.scored) {
    root.append(el("p", { class: "note", "data-testid": "companies-unchanged" }, "The edited file holds no company model and no model a company model rolls up: company scores do not change."));
    return;
  }
  root.append(el("div", { class: "cards" },
    card("Companies", fmt(pc.companies)),
    card("Company scores that move", fmt(pc.moved), { "data-testid": "company-moved" }),
    card("Companies newly crossing", fmt(pc.newly_crossing), { "data-testid": "company-newly-crossing" }),
    card("No longer crossing", fmt(pc.no_longer_crossing), { "data-testid": "company-no-longer-crossing" })));
  const crosses = (r) => (r.newly_crosses || []).map((t) => "+" + t).concat((r.no_longer_crosses || []).map((t) => "−" + t)).join(" ");
  for (const m of pc.models) {
    const sec = el("section", { "aria-labelledby": "pc-" + m.name, "data-company-model": m.name });
    sec.append(el("h3", { id: "pc-" + m.name }, `Company model ${m.name}`));
    sec.append(histogramChart(`Company score distribution of ${m.name}, before and after`, [{ name: "before", before: true, bins: m.before }, { name: "after", bins: m.after }], m.thresholds.length ? m.thresholds : m.thresholds_before));
    sec.append(legend([["before", "current rules"], ["", "edited rules"], ["threshold", "threshold"]]));
    const cols = [
      { h: "Company", get: (r) => companyLink(r.company_id) },
      { h: "Before", num: true, get: (r) => pts(r.old) },
      { h: "After", num: true, get: (r) => pts(r.new) },
    ];
    for (const ch of m.changes) {
      const box = el("div", { class: "twocol" });
      box.append(el("div", {}, el("h4", {}, `Companies newly crossing ${ch.threshold}: ${fmt(ch.newly_total)}`),
        ch.newly.length ? table(null, cols, ch.newly, { attrs: { "data-testid": "company-newly", "data-model": m.name, "data-threshold": ch.threshold } }) : el("p", { class: "note" }, "None.")));
      box.append(el("div", {}, el("h4", {}, `No longer crossing ${ch.threshold}: ${fmt(ch.no_longer_total)}`),
        ch.no_longer.length ? table(null, cols, ch.no_longer, { attrs: { "data-testid": "company-no-longer", "data-model": m.name, "data-threshold": ch.threshold } }) : el("p", { class: "note" }, "None.")));
      sec.append(box);
    }
    root.append(sec);
  }
  root.append(el("h3", {}, `Company scores that move (${fmt(pc.movers_total)}` + (pc.movers_total > pc.movers.length ? `, the first ${pc.movers.length} shown` : "") + ")"));
  root.append(table("Crossing changes first, then the largest moves; click a column to sort", [
    { h: "Company", get: (r) => companyLink(r.company_id), key: (r) => r.company_id },
    { h: "Model", get: (r) => r.model, key: (r) => r.model },
    { h: "Before", num: true, get: (r) => pts(r.old), key: (r) => r.old ?? -1e18 },
    { h: "After", num: true, get: (r) => pts(r.new), key: (r) => r.new ?? -1e18 },
    { h: "Change", num: true, get: (r) => el("span", { class: r.delta > 0 ? "pos" : "neg" }, signed(r.delta)), key: (r) => r.delta },
    { h: "Crossings", get: crosses, key: (r) => (r.newly_crosses || []).length - (r.no_longer_crosses || []).length },
  ], pc.movers, { sortable: true, attrs: { "data-testid": "company-movers" } }));
}

async function bridgePage() {
  const v = await api("/api/bridge");
  const c = content();
  if (v.error) { status(""); showError(v.error); if (!v.configured) return; }
  else status(`Read from ${v.url}/metrics at ${stamp(v.read_at)}.`);
  c.append(el("div", { class: "cards" },
    card("Held crossings", fmt(v.held), { "data-testid": "held" }), card("Outbox", fmt(v.outbox)), card("Consumer lag", fmt(v.lag))));
  c.append(el("h2", {}, "Quota use per sender"));
  if (v.quota_error) c.append(el("p", { class: "note", "data-testid": "quota-error" }, v.quota_error));
  else if (v.quota) {
    const q = v.quota;
    const ofCap = (n, cap) => `${fmt(n)} / ${fmt(cap)}`;
    c.append(table(`Rolling ${q.senders.length ? q.senders[0].window.replace("0m0s", "") : "24h"} windows, read at ${stamp(q.at)}`, [
      { h: "Sender", get: (r) => r.email + " (" + r.owner_id + ")" },
      { h: "Enrollments / cap", num: true, attrs: () => ({ "data-testid": "enrollments" }), get: (r) => ofCap(r.enrollments, r.daily_enrollments) },
      { h: "Calls that may have enrolled", num: true, get: (r) => fmt(r.pending_calls) },
      { h: "Projected sends / cap", num: true, attrs: () => ({ "data-testid": "sends" }), get: (r) => ofCap(r.projected_sends, r.daily_sends) },
      { h: "At cap", get: (r) => r.at_enrollment_cap ? "yes" : "no" },
      { h: "Oldest leaves the window", get: (r) => stamp(r.frees_at) },
      { h: "Held for quota", num: true, attrs: () => ({ "data-testid": "held-quota" }), get: (r) => fmt(r.held_for_quota) },
      { h: "Next release", get: (r) => stamp(r.next_release) },
    ], q.senders, { attrs: { "data-testid": "quota" }, rowAttrs: (r) => ({ "data-owner": r.owner_id }) }));
  }
  const cols = [{ h: "Kind", get: (r) => r.key || "(none)" }, { h: "Count", num: true, get: (r) => fmt(r.value) }];
  c.append(el("h2", {}, "Decisions"));
  c.append(table("By outcome", cols, v.by_outcome, { attrs: { "data-testid": "by-outcome" } }));
  c.append(table("By outcome and reason", cols, v.by_reason));
  c.append(el("h2", {}, "Crossings read"));
  c.append(table(null, cols, v.crossings));
  c.append(el("h2", {}, "HubSpot calls"));
  c.append(table(null, cols, v.api_calls));
}

async function livePage() {
  const c = content();
  const cards = el("div", { class: "cards" });
  const rest = el("div");
  c.append(cards, rest, el("p", { class: "note" }, "Read every 2 seconds from the scorer's /metrics; rates are between two readings."));
  const tick = async () => {
    try {
      const v = await api("/api/live");
      if (v.error) { showError(v.error); status(""); if (!v.configured) return false; } else showError("");
      status(`Read from ${v.url}/metrics at ${stamp(v.read_at)}; rules ${v.rule_version || "?"}.`);
      cards.replaceChildren(
        card("Events/s", v.events_per_second === null ? "…" : fmt(v.events_per_second, 1), { "data-testid": "events-per-second" }),
        card("Lag (messages)", fmt(v.lag), { "data-testid": "lag" }),
        card("Crossings/min", v.crossings_per_minute === null ? "…" : fmt(v.crossings_per_minute, 1), { "data-testid": "crossings-per-minute" }),
        card("Events scored", fmt(v.events_total)), card("Contacts held", fmt(v.contacts)));
      const cols = [{ h: "Kind", get: (r) => r.key }, { h: "Count", num: true, get: (r) => fmt(r.value) }];
      rest.replaceChildren(table("Events by outcome", cols, v.events_by_outcome), table("Crossings by model and threshold", cols, v.crossings_by_threshold));
    } catch (e) { showError(e.message); }
    return true;
  };
  if (await tick()) setInterval(tick, 2000);
}

async function calibrationPage() {
  const params = new URLSearchParams(location.search);
  const first = await api("/api/calibration?" + params.toString());
  const c = content();
  const q = first.query;
  const conv = el("select", { id: "conversion", name: "conversion" }, el("option", { value: "" }, "choose…"), first.types.map((t) => el("option", { value: t, selected: t === q.conversion }, t)));
  const form = el("form", { class: "inline", method: "get", action: "/calibration" },
    el("div", {}, el("label", { for: "conversion" }, "Conversion (event type)"), conv),
    el("div", {}, el("label", { for: "as_of" }, "Scores at (T0)"), el("input", { id: "as_of", name: "as_of", type: "text", value: q.as_of })),
    el("div", {}, el("label", { for: "window" }, "Conversion window"), el("input", { id: "window", name: "window", type: "text", value: q.window })),
    el("div", {}, el("label", { for: "bands" }, "Bands"), el("input", { id: "bands", name: "bands", type: "number", min: "1", value: q.bands })),
    el("button", { class: "primary", type: "submit" }, "Calibrate"));
  c.append(form);
  if (first.error) { status(""); showError(first.error); return; }
  const r = first.report;
  const p = first.population;
  status(`Scores at ${q.as_of} against ${q.conversion} within ${q.window} after: ${fmt(p.contacts)} contacts measured, ${fmt(p.converted)} converted (${fmt(p.already)} left out for converting before, ${fmt(p.later)} for arriving after).`);
  for (const m of r.models) {
    const sec = el("section", { "aria-labelledby": "c-" + m.model, "data-model": m.model });
    sec.append(el("h2", { id: "c-" + m.model }, `Model ${m.model}`));
    sec.append(el("div", { class: "cards" },
      card("AUC", m.auc === null ? "–" : m.auc.toFixed(3), { "data-testid": "auc" }), card("Contacts", fmt(m.contacts)), card("Converted", fmt(m.converted))));
    sec.append(table("Bands", [
      { h: "Scores", get: (b) => `${fmt(b.min)} – ${fmt(b.max)}` }, { h: "Contacts", num: true, get: (b) => fmt(b.contacts) },
      { h: "Converted", num: true, get: (b) => fmt(b.converted) }, { h: "Rate", num: true, get: (b) => (b.rate * 100).toFixed(1) + "%" },
      { h: "Lift", num: true, get: (b) => b.lift.toFixed(2) + "×" },
    ], m.bands));
    sec.append(table("Thresholds as qualifiers", [
      { h: "Threshold", get: (t) => t.name }, { h: "Score", num: true, get: (t) => pts(t.score) }, { h: "Contacts at or above", num: true, get: (t) => fmt(t.contacts) },
      { h: "Precision (rate)", num: true, get: (t) => (t.rate * 100).toFixed(1) + "%" }, { h: "Recall", num: true, get: (t) => (t.recall * 100).toFixed(1) + "%" },
    ], m.thresholds));
    const buckets = first.buckets[m.model] || [];
    const ths = first.thresholds[m.model] || [];
    if (ths.length) {
      const maxScore = Math.max(ths[0].at * 2, ...buckets.map((b) => b.score));
      const slider = el("input", { id: "sim-" + m.model, type: "range", min: "0", max: String(Math.ceil(maxScore)), step: "1", value: String(ths[0].at) });
      const out = el("p", { "aria-live": "polite", "data-testid": "simulated" });
      const weeksBox = el("div");
      const update = () => {
        const x = Number(slider.value);
        let n = 0, conv2 = 0;
        for (const b of buckets) if (b.score >= x) { n += b.contacts; conv2 += b.converted; }
        out.textContent = `${ths[0].name} at ${x}: ${fmt(n)} contacts at or above at T0, ${fmt(conv2)} converted (rate ${n ? (conv2 / n * 100).toFixed(1) : "–"}%, recall ${m.converted ? (conv2 / m.converted * 100).toFixed(1) : "–"}%).`;
      };
      slider.addEventListener("input", update);
      const simWeeks = el("button", { type: "button", class: "secondary" }, "Crossings per week at this threshold");
      simWeeks.addEventListener("click", async () => {
        const qs = new URLSearchParams(params); qs.set("simulate", m.model); qs.set("at", slider.value);
        try {
          const v = await api("/api/calibration?" + qs.toString());
          if (v.error) throw new Error(v.error);
          weeksBox.replaceChildren(weeksChart(`Crossings per week of ${m.model} with ${v.simulated.threshold} at ${v.simulated.at}`, [{ name: "crossings", weeks: v.simulated.weeks }]),
            el("p", { class: "note" }, `${fmt(v.simulated.crossings)} crossings over the history.`));
        } catch (e) { showError(e.message); }
      });
      sec.append(el("h3", {}, "Threshold simulator"), el("label", { for: "sim-" + m.model }, `Move ${ths[0].name} (now ${ths[0].at})`), slider, out, simWeeks, weeksBox);
      update();
    }
    const fitBtn = el("button", { type: "button", class: "secondary" }, "Suggest points (scorer fit)");
    const fitBox = el("div", { "aria-live": "polite" });
    fitBtn.addEventListener("click", async () => {
      fitBtn.disabled = true; fitBox.textContent = "Fitting…";
      try {
        const qs = new URLSearchParams({ model: m.model, as_of: q.as_of, conversion: q.conversion, window: q.window });
        const f = (await api("/api/calibration/fit?" + qs.toString())).fit;
        fitBox.replaceChildren(el("p", {}, `Holdout AUC ${f.holdout_auc_before === null ? "–" : f.holdout_auc_before.toFixed(3)} → ${f.holdout_auc_after === null ? "–" : f.holdout_auc_after.toFixed(3)} (fit on ${fmt(f.fit_contacts)} contacts, ${fmt(f.fit_conversions)} conversions).`),
          table("Suggested points", [{ h: "Group", get: (g) => g.group }, { h: "Now", num: true, get: (g) => g.old_points }, { h: "Suggested", num: true, get: (g) => g.new_points },
            { h: "Contacts matched", num: true, get: (g) => fmt(g.matched) }, { h: "Their rate", num: true, get: (g) => (g.rate * 100).toFixed(1) + "%" }], f.groups),
          el("p", { class: "note" }, "Try them in the preview before publishing."));
      } catch (e) { fitBox.replaceChildren(el("p", { class: "error" }, e.message)); }
      finally { fitBtn.disabled = false; }
    });
    sec.append(el("h3", {}, "Suggested points"), fitBtn, fitBox);
    c.append(sec);
  }
}

async function companyPage() {
  const id = decodeURIComponent(location.pathname.replace(/^\/companies\/?/, ""));
  $("#title").textContent = "Company " + id;
  document.title = `Company ${id} - Score Studio`;
  const c = content();
  // The as-of control comes first, so that a bad date can be fixed where it was typed.
  const asOf = new URLSearchParams(location.search).get("as_of") || "";
  c.append(el("form", { class: "inline", method: "get", action: location.pathname },
    el("div", {}, el("label", { for: "as_of" }, "Score at (as of)"),
      el("input", { id: "as_of", name: "as_of", type: "text", value: asOf, placeholder: "2026-10-14 or 2026-10-14T12:00:00Z", "aria-describedby": "as-of-help", autocomplete: "off" })),
    el("button", { class: "primary", type: "submit" }, "Show"),
    asOf ? el("a", { href: location.pathname }, "At the end of the history") : null));
  c.append(el("p", { id: "as-of-help", class: "note" }, "Empty: the end of the history. Events after the time are ignored, as by scorer backtest --as-of."));
  let v;
  try { v = await api("/api/companies/" + encodeURIComponent(id) + (asOf ? "?as_of=" + encodeURIComponent(asOf) : "")); } catch (e) { status(""); throw e; }
  status((v.as_of ? `Company models as of ${stamp(v.as_of)} (events after it ignored)` : "Company models over the whole history") +
    ` under rules ${v.rules_version}, as the backtest's company lines score them.`);
  c.append(el("div", { class: "cards" }, v.models.map((m) => card(`${m.model} score`, pts(m.score), { "data-testid": "score", "data-model": m.model }))));
  for (const m of v.models) {
    const sec = el("section", { "aria-labelledby": "m-" + m.model, "data-model": m.model });
    sec.append(el("h2", { id: "m-" + m.model }, `${m.model}: ${pts(m.score)} points`));
    sec.append(el("p", { class: "note" }, `From ${m.from}, rollup ${m.rollup} (${pts(m.rollup_points)} points); contacts count from ${pts(m.min_contact_score)}; coverage ${signed(m.coverage_points)} points` +
      (m.coverage.length ? ` for ${m.coverage.join(", ")}.` : " (no role present).")));
    sec.append(table("Members", [
      { h: "Contact", get: (r) => contactLink(r.contact_id) },
      { h: "Role", get: (r) => r.role || "–" },
      { h: `${m.from} score`, num: true, get: (r) => pts(r.score), attrs: () => ({ "data-testid": "member-score" }) },
      { h: "Counts", get: (r) => !r.counted ? "no: below min_contact_score" : (r.in_rollup ? "yes" : "coverage only") },
    ], m.members, { attrs: { "data-testid": "members" }, rowAttrs: (r) => ({ "data-contact": r.contact_id }) }));
    sec.append(table("Crossings", [
      { h: "When", get: (x) => stamp(x.at), attrs: () => ({ "data-testid": "crossing-at" }) }, { h: "Threshold", get: (x) => x.threshold },
      { h: "Score", num: true, get: (x) => pts(x.score) }, { h: "Caused by", get: (x) => [contactLink(x.contact_id), " ", x.event_id] },
    ], m.crossings, { attrs: { "data-testid": "company-crossings" } }));
    c.append(sec);
  }
}

// The reload button on every page: read the rules (and a ClickHouse
// history) again, then draw the page from what is loaded now.
function reloadButton() {
  const b = $("#reload");
  if (!b) return;
  b.addEventListener("click", async () => {
    b.disabled = true;
    $("#loaded").textContent = "Reloading…";
    try {
      await api("/api/reload?history=1", { method: "POST" });
      location.reload();
    } catch (e) {
      b.disabled = false;
      $("#loaded").textContent = "Reload failed: " + e.message;
    }
  });
}

const pages = { notfound: async () => {}, company: companyPage, overview, contact: contactPage, preview: previewPage, bridge: bridgePage, live: livePage, calibration: calibrationPage };

window.addEventListener("DOMContentLoaded", async () => {
  reloadButton();
  const page = pages[document.body.dataset.page];
  try {
    await page();
  } catch (e) {
    status("");
    showError(e.message);
  }
  document.body.dataset.ready = "true";
});
