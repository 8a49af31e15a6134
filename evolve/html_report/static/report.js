// evolve report: draws the figures and opens candidates. Stored text (code, prompts, answers,
// feedback) is only ever put on the page with textContent: it is data, never markup.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const facts = JSON.parse($("report-facts").textContent);
  const blocks = new Map();
  let rows = [];
  let byId = new Map();
  let page = 0;
  const PAGE = 100;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function num(v) {
    if (v === null || v === undefined) return "-";
    return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(+v.toFixed(4));
  }

  async function inflate(b64) {
    const bin = atob(b64.trim());
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  function drawFigures() {
    const specs = JSON.parse($("figures").textContent);
    for (const [name, spec] of Object.entries(specs)) {
      const div = $("fig-" + name);
      if (!div) continue;
      Plotly.newPlot(div, spec.data, spec.layout, { displaylogo: false, responsive: true });
      div.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        const id = point ? point.customdata : null;
        if (typeof id === "number") openCandidate(id);
      });
    }
  }

  async function loadIndex() {
    const index = await inflate($("candidate-index").textContent);
    const cols = index.columns;
    rows = index.rows.map((r) => Object.fromEntries(cols.map((c, k) => [c, r[k]])));
    byId = new Map(rows.map((r) => [r.id, r]));
    const islands = [...new Set(rows.map((r) => r.island))].sort((a, b) => a - b);
    for (const i of islands) {
      const option = el("option", "island " + i);
      option.value = String(i);
      $("filter-island").append(option);
    }
  }

  function filtered() {
    const status = $("filter-status").value;
    const island = $("filter-island").value;
    const text = $("filter-text").value.trim().toLowerCase();
    let out = rows.filter((r) =>
      (!status || r.status === status) &&
      (!island || String(r.island) === island) &&
      (!text || [r.reason, r.model, r.operator, r.summary].join(" ").toLowerCase().includes(text)));
    if ($("sort").value === "score") {
      const sign = facts.maximize ? -1 : 1;
      out = out.slice().sort((a, b) => (a.score === null) - (b.score === null) || sign * (a.score - b.score) || a.iteration - b.iteration);
    }
    return out;
  }

  function renderTable() {
    const list = filtered();
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    const body = $("candidate-table").tBodies[0];
    body.replaceChildren();
    for (const r of list.slice(page * PAGE, (page + 1) * PAGE)) {
      const tr = el("tr");
      tr.dataset.candidate = String(r.id);
      tr.append(el("td", r.iteration), el("td", r.island), el("td", r.generation),
        el("td", r.parent === null ? "-" : byId.has(r.parent) ? byId.get(r.parent).iteration : r.parent));
      const status = el("td");
      status.append(el("span", r.reason && r.reason !== r.status ? r.status + ": " + r.reason : r.status, "status " + r.status));
      tr.append(status, el("td", num(r.score)), el("td", num(r.test)), el("td", r.model), el("td", r.summary, "summary"));
      body.append(tr);
    }
    $("table-count").textContent = list.length + " candidates, page " + (page + 1) + " of " + pages;
  }

  async function detailOf(row) {
    if (!blocks.has(row.block)) blocks.set(row.block, inflate($("candidate-block-" + row.block).textContent));
    const list = await blocks.get(row.block);
    return list.find((d) => d.id === row.id);
  }

  function linkTo(id, text) {
    const a = el("a", text);
    a.href = "#candidate-" + id;
    a.dataset.candidate = String(id);
    return a;
  }

  function linkList(label, ids) {
    const span = el("span", label + ": ");
    if (!ids.length) span.append("none");
    ids.slice(0, 60).forEach((id, k) => {
      if (k) span.append(", ");
      span.append(linkTo(id, byId.has(id) ? "#" + byId.get(id).iteration : String(id)));
    });
    if (ids.length > 60) span.append(" … (" + ids.length + ")");
    return span;
  }

  function showDiff(pre, diff) {
    pre.replaceChildren();
    if (!diff) { pre.textContent = "(no diff: the seed, or no code)"; return; }
    for (const line of diff.split("\n")) {
      const kind = line.startsWith("+++") || line.startsWith("---") ? "file" : line.startsWith("@@") ? "hunk"
        : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
      pre.append(el("span", line, kind));
    }
  }

  function showStages(box, stages) {
    box.replaceChildren();
    if (!stages.length) { box.append(el("p", "not evaluated", "hint")); return; }
    for (const s of stages) {
      const d = el("details");
      d.open = true;
      const head = el("summary", s.stage + ": " + (s.error ? "error " + s.error : s.valid ? "valid" : "invalid") +
        (s.reason ? " (" + s.reason + ")" : "") + " · " + num(s.seconds) + " s");
      const table = el("table", null, "metrics");
      for (const [k, v] of s.metrics) {
        const tr = el("tr");
        tr.append(el("td", k), el("td", num(v)));
        table.append(tr);
      }
      d.append(head, table);
      if (s.feedback) d.append(el("pre", s.feedback, "feedback"));
      box.append(d);
    }
  }

  function showCall(call) {
    $("panel-call").hidden = !call;
    if (!call) return;
    $("panel-call-facts").textContent = [call.proposer, call.model, call.operator && "operator " + call.operator,
      call.tokens_in + " tokens in, " + call.tokens_out + " out", "$" + (call.dollars || 0).toFixed(4) + (call.priced ? "" : " (unpriced)"),
      num(call.latency) + " s", call.attempts + " attempt(s)", call.error && "error: " + call.error].filter(Boolean).join(" · ");
    $("panel-prompt").textContent = call.prompt || "(none)";
    $("panel-response").textContent = call.response || "(none)";
  }

  async function openCandidate(id) {
    const row = byId.get(id);
    if (!row) return;
    const d = await detailOf(row);
    $("panel-title").textContent = "#" + row.iteration + " · " + row.status + (row.reason ? ": " + row.reason : "");
    $("panel-facts").textContent = "candidate " + row.id + " · island " + row.island + " · generation " + row.generation +
      " · score " + num(row.score) + " · held-out " + num(row.test) + (d.summary ? " · " + d.summary : "");
    const links = $("panel-links");
    links.replaceChildren(linkList("parent", row.parent === null ? [] : [row.parent]), el("br"),
      linkList("children", d.children), el("br"), linkList("inspirations", d.inspirations));
    showDiff($("panel-diff"), d.diff);
    $("panel-failure").hidden = !d.failure_detail;
    $("panel-failure-detail").textContent = d.failure_detail;
    showStages($("panel-stages"), d.stages);
    showCall(d.call);
    $("panel-code").textContent = d.code || "(no code)";
    $("panel").hidden = false;
    $("panel").dataset.showing = String(id);
    if (location.hash !== "#candidate-" + id) history.replaceState(null, "", "#candidate-" + id);
  }

  function wire() {
    document.addEventListener("click", (event) => {
      const target = event.target.closest("[data-candidate]");
      if (!target) return;
      event.preventDefault();
      openCandidate(Number(target.dataset.candidate));
    });
    $("panel-close").addEventListener("click", () => { $("panel").hidden = true; });
    for (const id of ["filter-status", "filter-island", "filter-text", "sort"]) {
      $(id).addEventListener("input", () => { page = 0; renderTable(); });
    }
    $("prev-page").addEventListener("click", () => { page -= 1; renderTable(); });
    $("next-page").addEventListener("click", () => { page += 1; renderTable(); });
    window.addEventListener("hashchange", fromHash);
  }

  function fromHash() {
    const match = /^#candidate-(\d+)$/.exec(location.hash);
    if (match) openCandidate(Number(match[1]));
  }

  async function main() {
    drawFigures();
    wire();
    if (typeof DecompressionStream === "undefined") {
      const box = $("candidate-data-error");
      box.textContent = "This browser cannot open the candidate data (it needs DecompressionStream: Chrome 80+, Firefox 113+, Safari 16.4+).";
      box.hidden = false;
      return;
    }
    await loadIndex();
    renderTable();
    fromHash();
    document.body.dataset.ready = "true";
  }

  main();
})();
