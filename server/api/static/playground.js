// lucene-hybrid playground: BM25, dense and fused lists side by side. Plain JS, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("search-form");
const fields = ["collection", "query", "mode", "fusion", "alpha", "normalization", "rrf-k", "depth", "k"];
const param = { query: "q", "rrf-k": "rrf_k" };
let last = null; // the latest fused response, for the explain dialog

function hue(id) {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Lucene's English stopwords: BM25 ignores them, so the page does not highlight them either.
const STOP = new Set(("a an and are as at be but by for if in into is it no not of on or such that " +
  "the their then there these they this to was will with").split(" "));

function terms(query) {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) || [];
  return [...new Set(words.filter((w) => !STOP.has(w)))];
}

// A snippet around the first query term, with every query term highlighted.
function snippet(text, words) {
  text = text || "";
  const lower = text.toLowerCase();
  let at = -1;
  for (const w of words) {
    const i = lower.indexOf(w);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  const start = Math.max(0, at - 60);
  let s = text.slice(start, start + 240);
  if (start > 0) s = "\u2026" + s;
  if (start + 240 < text.length) s += "\u2026";
  let html = escapeHtml(s);
  if (words.length) {
    // Whole words, plus plain suffixes: "vector" marks "vectors", but "do" not "document".
    const alternatives = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
    const re = new RegExp("(?<![\\p{L}\\p{N}])((?:" + alternatives + ")(?:s|es|ed|ing)?)(?![\\p{L}\\p{N}])", "giu");
    html = html.replace(re, "<mark>$1</mark>");
  }
  return html;
}

function headers() {
  const h = { "content-type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h.authorization = "Bearer " + key;
  return h;
}

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: headers(), body: body ? JSON.stringify(body) : undefined });
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    const e = (data && data.error) || { type: "http_" + r.status, message: r.statusText };
    const err = new Error(e.message);
    err.kind = e.type;
    err.status = r.status;
    throw err;
  }
  return data;
}

function showError(err) {
  const box = $("error");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false;
  box.textContent = (err.status ? err.status + " " : "") + (err.kind ? err.kind + ": " : "") + err.message;
}

function syncControls() {
  const mode = $("mode").value, fusion = $("fusion").value;
  document.querySelectorAll(".for-linear").forEach((el) =>
    el.classList.toggle("hidden-control", mode !== "hybrid" || fusion !== "linear"));
  document.querySelectorAll(".for-rrf").forEach((el) =>
    el.classList.toggle("hidden-control", mode !== "hybrid" || fusion !== "rrf"));
  $("fusion").disabled = mode !== "hybrid";
  $("alpha-out").value = Number($("alpha").value).toFixed(2);
}

function request(mode) {
  const body = { query: $("query").value, mode, k: Number($("k").value), depth: Number($("depth").value) };
  if (mode === "hybrid") {
    body.fusion = $("fusion").value;
    if (body.fusion === "linear") {
      body.alpha = Number($("alpha").value);
      body.normalization = $("normalization").value;
    } else {
      body.rrf_k = Number($("rrf-k").value);
    }
    body.explain = true;
  }
  return body;
}

function renderColumn(which, result, words) {
  const col = $("col-" + which), ol = col.querySelector("ol"), status = col.querySelector(".status");
  ol.textContent = "";
  if (result.error) {
    status.textContent = "\u26a0 " + result.error.message;
    return;
  }
  const hits = result.value.hits;
  status.textContent = hits.length ? hits.length + " hits" : "no hits";
  for (const h of hits) {
    const li = document.createElement("li");
    li.className = "hit";
    li.tabIndex = 0;
    li.dataset.id = h.id;
    li.style.setProperty("--hue", hue(h.id));
    let from = "";
    if (which === "fused" && result.value.mode === "hybrid") {
      const b = h.bm25_rank ? "BM25 #" + h.bm25_rank : "BM25 \u2013";
      const d = h.dense_rank ? "dense #" + h.dense_rank : "dense \u2013";
      from = `<span class="from">${b} \u00b7 ${d}</span><button type="button" class="explain" aria-label="explain the score of ${escapeHtml(h.id)}">explain</button>`;
    }
    li.innerHTML =
      `<div class="head"><span class="rank">${h.rank}</span><span class="id">${escapeHtml(h.id)}</span>` +
      `${from}<span class="score">${h.score.toFixed(4)}</span></div>` +
      `<p class="snippet">${snippet(h.text, words)}</p>`;
    ol.appendChild(li);
  }
}

function link(id, on) {
  document.querySelectorAll("li.hit").forEach((li) => li.classList.toggle("linked", on && li.dataset.id === id));
}

function renderChart(result) {
  const svg = $("chart");
  svg.textContent = "";
  if (!result || result.error || result.value.mode !== "hybrid") return;
  const hits = result.value.hits;
  const ns = "http://www.w3.org/2000/svg";
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  const maxRank = Math.max(2, ...hits.flatMap((h) => [h.bm25_rank || 0, h.dense_rank || 0]));
  const L = 40, T = 16, W = 290, H = 200, absent = maxRank + 1;
  const x = (r) => L + ((r || absent) - 1) / (absent - 1) * W;
  const y = (r) => T + ((r || absent) - 1) / (absent - 1) * H;
  el("line", { x1: L, y1: T + H, x2: L + W, y2: T + H, stroke: "#999" });
  el("line", { x1: L, y1: T, x2: L, y2: T + H, stroke: "#999" });
  el("text", { x: L + W / 2, y: T + H + 28, "text-anchor": "middle" }, "BM25 rank \u2192");
  el("text", { x: 10, y: T + H / 2, transform: `rotate(-90 10 ${T + H / 2})`, "text-anchor": "middle" }, "dense rank \u2192");
  for (const r of [1, maxRank]) {
    el("text", { x: x(r), y: T + H + 12, "text-anchor": "middle" }, String(r));
    el("text", { x: L - 4, y: y(r) + 3, "text-anchor": "end" }, String(r));
  }
  el("text", { x: x(absent), y: T + H + 12, "text-anchor": "middle" }, "\u2013");
  el("text", { x: L - 4, y: y(absent) + 3, "text-anchor": "end" }, "\u2013");
  const scores = hits.map((h) => h.score), lo = Math.min(...scores), hi = Math.max(...scores);
  for (const h of hits) {
    const size = hi > lo ? (h.score - lo) / (hi - lo) : 1;
    const c = el("circle", {
      cx: x(h.bm25_rank), cy: y(h.dense_rank), r: 3 + 7 * size,
      fill: `hsla(${hue(h.id)}, 70%, 50%, 0.75)`, stroke: "#333", "stroke-width": 0.5,
      "data-id": h.id, class: "point",
    });
    const title = document.createElementNS(ns, "title");
    title.textContent = `${h.id}: fused #${h.rank} (${h.score.toFixed(4)}), BM25 #${h.bm25_rank || "\u2013"}, dense #${h.dense_rank || "\u2013"}`;
    c.appendChild(title);
  }
}

function fmt(v) {
  if (v === null || v === undefined) return "\u2013";
  if (typeof v !== "number") return String(v);
  return Number.isInteger(v) ? String(v) : v.toFixed(4);
}

function explain(id) {
  const hit = last && last.hits.find((h) => h.id === id);
  if (!hit || !hit.explain) return;
  const e = hit.explain;
  const linear = e.fusion === "linear";
  let rows = "";
  for (const [name, v] of Object.entries(e.lists)) {
    const value = linear ? fmt(v.normalized) + (v.absent ? " (absent: floor)" : "") : fmt(v.rrf_term);
    rows += `<tr><th scope="row">${escapeHtml(name)}</th><td>${fmt(v.rank)}</td><td>${fmt(v.raw_score)}</td><td>${value}</td><td>${fmt(v.weight)}</td></tr>`;
  }
  const how = linear
    ? `Linear fusion of ${escapeHtml(e.normalization)}-normalized scores: each list's weight times the document's normalized score there (a document a list did not retrieve takes that list's floor).`
    : `Reciprocal rank fusion with k = ${fmt(e.rrf_k)}: each list that retrieved the document adds weight / (k + rank).`;
  $("explain-title").textContent = "Why " + hit.id + " scores " + hit.score.toFixed(4);
  $("explain-body").innerHTML =
    `<p>${how}</p><table><thead><tr><th>list</th><th>rank</th><th>raw score</th><th>${linear ? "normalized" : "1 / (k + rank)"}</th><th>weight</th></tr></thead><tbody>${rows}</tbody></table>` +
    `<code id="explain-formula">${escapeHtml(e.formula)}</code>`;
  $("explain").showModal();
}

async function search() {
  const collection = $("collection").value;
  const query = $("query").value.trim();
  if (!collection || !query) return;
  const url = new URL(location.href);
  url.search = "";
  for (const f of fields) url.searchParams.set(param[f] || f, $(f).value);
  history.replaceState(null, "", url);
  const path = `/v1/collections/${encodeURIComponent(collection)}/search`;
  const mode = $("mode").value;
  const calls = [request("bm25"), request("dense"), request(mode)].map((b) => api("POST", path, b));
  const [bm25, dense, fused] = (await Promise.allSettled(calls)).map((r) =>
    r.status === "fulfilled" ? { value: r.value } : { error: r.reason });
  const words = terms(query);
  renderColumn("bm25", bm25, words);
  renderColumn("dense", dense, words);
  renderColumn("fused", fused, words);
  last = fused.value || null;
  renderChart(fused);
  showError(fused.error || null);
  document.body.dataset.searches = String(Number(document.body.dataset.searches || 0) + 1);
}

async function loadDefaults() {
  try {
    const spec = await api("GET", "/openapi.json");
    const props = spec.components.schemas.SearchRequest.properties;
    const set = (id, key) => { if (props[key] && props[key].default !== undefined) $(id).value = props[key].default; };
    set("mode", "mode"); set("fusion", "fusion"); set("alpha", "alpha"); set("normalization", "normalization");
    set("rrf-k", "rrf_k"); set("depth", "depth"); set("k", "k");
  } catch (_) { /* keep the page's own defaults */ }
}

async function loadCollections(wanted) {
  const select = $("collection");
  try {
    const data = await api("GET", "/v1/collections");
    select.textContent = "";
    for (const c of data.collections) select.add(new Option(`${c.name} (${c.documents} docs)`, c.name));
    for (const [name, why] of Object.entries(data.failed || {})) {
      const o = new Option(`${name} (unavailable)`, name);
      o.title = why;
      select.add(o);
    }
    if (wanted && ![...select.options].some((o) => o.value === wanted)) select.add(new Option(wanted, wanted));
    if (wanted) select.value = wanted;
    if (!select.options.length) showError({ message: "this server has no collections yet: create one through the API" });
  } catch (err) {
    showError(err);
  }
}

async function main() {
  $("api-key").value = sessionStorage.getItem("lucene-hybrid-key") || "";
  await loadDefaults();
  const params = new URLSearchParams(location.search);
  for (const f of fields) if (f !== "collection" && params.has(param[f] || f)) $(f).value = params.get(param[f] || f);
  await loadCollections(params.get("collection"));
  syncControls();
  form.addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
  for (const id of ["mode", "fusion", "alpha", "normalization", "rrf-k", "depth", "k", "collection"]) {
    $(id).addEventListener("change", () => { syncControls(); search(); });
  }
  $("alpha").addEventListener("input", syncControls);
  $("api-key").addEventListener("change", () => {
    sessionStorage.setItem("lucene-hybrid-key", $("api-key").value.trim());
    loadCollections($("collection").value);
  });
  const results = $("results");
  for (const type of ["mouseover", "focusin"]) {
    results.addEventListener(type, (ev) => { const li = ev.target.closest("li.hit"); if (li) link(li.dataset.id, true); });
  }
  for (const type of ["mouseout", "focusout"]) results.addEventListener(type, () => link(null, false));
  results.addEventListener("click", (ev) => {
    const btn = ev.target.closest("button.explain");
    if (btn) explain(btn.closest("li.hit").dataset.id);
  });
  results.addEventListener("keydown", (ev) => {
    const li = ev.target.closest("li.hit");
    if (li && ev.key === "Enter" && li.closest("#col-fused")) explain(li.dataset.id);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && document.activeElement.tagName !== "INPUT") { ev.preventDefault(); $("query").focus(); }
  });
  if ($("query").value.trim()) await search();
  document.body.dataset.ready = "true";
}

main();
