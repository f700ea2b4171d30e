// csvae explore: the page. Plain JavaScript, no libraries, nothing fetched but this server's /api.
"use strict";

const client = Math.random().toString(36).slice(2);
const stats = { latencies: [], sent: 0, moves: 0 };  // read by the browser tests and the benchmark
window.exploreStats = stats;
let state = null;       // /api/state
let current = null;     // the selected input's id
const runs = [];        // per run: its description and edit state
window.exploreRuns = runs;  // for the browser tests: seq (newest move) and shown (newest move on screen)

function $(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") el.textContent = v; else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

function showError(message, r) {  // in the box that stays in view, and in run r's panel when given
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
  if (r !== undefined && runs[r]) {
    runs[r].ui.error.textContent = message || "";
    runs[r].ui.error.hidden = !message;
  }
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(data.error || `${res.status}`);
  return data;
}

// ----- edits: at most one request in flight per run; moves meanwhile coalesce into the newest --------
function requestEdit(r) {
  const st = runs[r];
  st.seq += 1;
  st.marks.set(st.seq, performance.now());
  stats.moves += 1;
  if (st.inflight) { st.pending = true; return; }
  sendEdit(r);
}

async function sendEdit(r) {
  const st = runs[r];
  st.inflight = true; st.pending = false;
  const seq = st.seq, image = current;
  stats.sent += 1;
  try {
    const out = await api("/api/edit", { run: r, image, target: st.target, w: st.w, seq, client });
    if (!out.superseded && image === current) {  // an edit of the input shown before is dropped
      await showEdit(r, out.edit);
      const now = performance.now();
      for (const [s, t] of st.marks) if (s <= seq) { stats.latencies.push(now - t); st.marks.delete(s); }
      st.shown = seq;
      st.ui.edit.dataset.seq = String(seq);
      showProbs(r, out.probs);
      if (!st.ui.error.hidden) showError("", r);
    }
  } catch (err) { showError(`${st.desc.label}: the edit failed: ${err.message}`, r); }
  st.inflight = false;
  if (st.pending) sendEdit(r);
}

async function showEdit(r, edit) {
  const st = runs[r];
  if (st.desc.kind === "image") {
    st.ui.edit.src = edit;
    try { await st.ui.edit.decode(); } catch (e) { /* shown anyway */ }
    st.ui.exportPng.dataset.href = edit;
  } else {
    st.editX = edit;
    drawData();
  }
}

function showProbs(r, probs) {
  const st = runs[r];
  if (!st.desc.judge || !probs) return;
  st.desc.judge.forEach((name, i) => {
    const row = st.ui.probs.querySelector(`[data-attribute="${CSS.escape(name)}"]`);
    row.querySelector("meter").value = probs[i];
    row.querySelector("span.value").textContent = probs[i].toFixed(3);
  });
}

// ----- inputs ------------------------------------------------------------------------------------
async function select(id) {
  current = id;
  document.querySelectorAll("#gallery img").forEach((img) => {
    img.classList.toggle("selected", img.dataset.id === id);
    img.setAttribute("aria-pressed", String(img.dataset.id === id));
  });
  try {
    const out = await api("/api/select", { image: id });
    out.runs.forEach((item, r) => {
      const st = runs[r];
      st.y = item.y; st.target = item.y.slice(); st.w0 = item.w; st.w = item.w ? item.w.slice() : null;
      st.marks.clear();
      if (st.desc.kind === "image") { st.ui.input.src = item.input; st.ui.recon.src = item.recon; }
      else { st.inputX = item.input; st.editX = item.recon; }
      syncControls(r);
      showProbs(r, item.probs);
      requestEdit(r);
    });
    showError("");
    if (state.runs[0].kind === "vector") drawScatter();
  } catch (err) { showError(err.message); }
}

const inputs = new Map();  // id -> {name, source}: what an export names

function addThumbnail(image) {
  inputs.set(image.id, image);
  const img = $("img", { src: `/api/thumbnail?id=${encodeURIComponent(image.id)}`, alt: `input ${image.name}`,
                         title: image.name, loading: "lazy", "data-id": image.id, tabindex: "0", role: "button",
                         "aria-pressed": "false" });
  img.addEventListener("click", () => select(image.id));
  img.addEventListener("keydown", (e) => thumbnailKey(e, img));
  document.getElementById("gallery").append(img);
  document.querySelectorAll("select.donor").forEach((s) => s.append($("option", { value: image.id, text: image.name })));
  updateStatus();
}

function thumbnailKey(event, img) {  // Enter or Space selects; the arrow keys move to the next input and select it
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
  if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(img.dataset.id); return; }
  if (!step) return;
  event.preventDefault();
  const all = [...document.querySelectorAll("#gallery img")], next = all[all.indexOf(img) + step];
  if (next) { next.focus(); select(next.dataset.id); }
}

function updateStatus() {
  const count = state.runs[0].kind === "vector" ? state.runs[0].points.ids.length
    : document.querySelectorAll("#gallery img").length;
  document.getElementById("status").textContent = `${state.runs.length} run(s), ${count} inputs`;
}

async function upload(file) {
  try {
    const res = await fetch("/api/upload", { method: "POST", body: file,
      headers: { "X-Filename": encodeURIComponent(file.name), "Content-Type": "application/octet-stream" } });
    const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok) throw new Error(data.error || `${res.status}`);
    addThumbnail(data);
    showError("");
    await select(data.id);
  } catch (err) { showError(`Upload refused: ${err.message}`); }
}

// ----- controls ------------------------------------------------------------------------------------
function block(st, i) { const d = st.desc.w_dim; return [i * d, (i + 1) * d]; }

async function setLabel(r, i, value) {
  const st = runs[r];
  const before = st.target.slice();
  if (st.desc.label_kind === "categorical") st.target = st.target.map((_, j) => (j === i ? 1 : 0));
  else st.target[i] = value;
  if (st.w) {  // subspace models: the changed blocks move to their new label's class mean
    const out = await api("/api/points", { run: r, target: st.target, how: "class_mean" });
    st.target.forEach((v, j) => {
      if (v !== before[j]) { const [a, b] = block(st, j); for (let k = a; k < b; k++) st.w[k] = out.w[k]; }
    });
  }
  syncControls(r);
  requestEdit(r);
}

async function sampleStyle(r, i) {
  const st = runs[r];
  try {
    const out = await api("/api/points", { run: r, target: st.target, how: "sample",
                                           seed: Math.floor(Math.random() * 2 ** 31) });
    const [a, b] = block(st, i);
    for (let k = a; k < b; k++) st.w[k] = out.w[k];
    followLabel(r, i);
    syncControls(r);
    requestEdit(r);
  } catch (err) { showError(err.message, r); }
}

function resetStyle(r, i) {
  const st = runs[r];
  if (st.desc.label_kind === "categorical") {  // one class at a time: back to the input's class and code
    st.target = st.y.slice(); st.w = st.w0.slice();
    syncControls(r);
    requestEdit(r);
    return;
  }
  const [a, b] = block(st, i);
  for (let k = a; k < b; k++) st.w[k] = st.w0[k];
  st.target[i] = st.y[i];
  syncControls(r);
  requestEdit(r);
}

async function transfer(r) {
  const st = runs[r];
  const donor = st.ui.donor.value, i = Number(st.ui.donorAttribute.value);
  try {
    const out = await api("/api/code", { run: r, image: donor });
    const [a, b] = block(st, i);
    for (let k = a; k < b; k++) st.w[k] = out.w[k];
    followLabel(r, i);
    syncControls(r);
    requestEdit(r);
  } catch (err) { showError(err.message, r); }
}

function padGeometry(pad) { return { lo: Number(pad.dataset.lo), hi: Number(pad.dataset.hi), size: pad.width }; }

function followLabel(r, i) {  // "label on" follows the point: the class whose mean of W_i is nearer
  const st = runs[r];
  if (!st.w || st.desc.label_kind === "categorical") return;
  const [a] = block(st, i), distance = (mean) => mean.reduce((sum, m, k) => sum + (st.w[a + k] - m) ** 2, 0);
  st.target[i] = distance(st.desc.class_means["1"][i]) < distance(st.desc.class_means["0"][i]) ? 1 : 0;
}

function drawPad(r, i) {
  const st = runs[r], pad = st.ui.pads[i];
  if (!pad || !st.w) return;
  const ctx = pad.getContext("2d"), g = padGeometry(pad), [da, db] = st.dims[i], off = i * st.desc.w_dim;
  const px = (v) => ((v - g.lo) / (g.hi - g.lo)) * g.size, py = (v) => g.size - px(v);
  ctx.clearRect(0, 0, g.size, g.size);
  ctx.strokeStyle = "#ddd";
  ctx.beginPath(); ctx.moveTo(px(0), 0); ctx.lineTo(px(0), g.size); ctx.moveTo(0, py(0)); ctx.lineTo(g.size, py(0)); ctx.stroke();
  drawTicks(ctx, g, px, py);
  for (const [point, label] of st.desc.scatter[i]) {
    ctx.fillStyle = label ? "rgba(200,60,40,0.35)" : "rgba(40,90,200,0.35)";
    ctx.fillRect(px(point[da]) - 1, py(point[db]) - 1, 2, 2);
  }
  for (const [value, colour] of [["0", "#285ac8"], ["1", "#c83c28"]]) {
    const m = st.desc.class_means[value][i];
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.strokeRect(px(m[da]) - 4, py(m[db]) - 4, 8, 8); ctx.lineWidth = 1;
  }
  const x = Math.min(g.size, Math.max(0, px(st.w[off + da]))), y = Math.min(g.size, Math.max(0, py(st.w[off + db])));
  ctx.fillStyle = "#111";
  ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI); ctx.fill();
  const held = [...Array(st.desc.w_dim).keys()].filter((d) => d !== da && d !== db);
  pad.setAttribute("aria-valuetext", [da, db].map((d) => `w${d + 1} ${st.w[off + d].toFixed(2)}`).join(", ")
    + held.map((d) => `, w${d + 1} ${st.w[off + d].toFixed(2)} held`).join(""));
}

function drawTicks(ctx, g, px, py) {  // the pad's scale, the same on both axes: its ends, and 0 when inside
  ctx.fillStyle = "#777"; ctx.font = "9px system-ui, sans-serif";
  const label = (v) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(1));
  const zero = (0 - g.lo) / (g.hi - g.lo), inside = zero > 0.15 && zero < 0.85;
  ctx.textAlign = "left"; ctx.fillText(label(g.lo), 2, g.size - 2);  // the shared corner: both axes' low end
  ctx.textAlign = "right"; ctx.fillText(label(g.hi), g.size - 2, g.size - 2);
  ctx.textAlign = "left"; ctx.fillText(label(g.hi), 2, 9);
  if (inside) {
    ctx.textAlign = "center"; ctx.fillText("0", px(0), g.size - 2);
    ctx.textAlign = "left"; ctx.fillText("0", 2, py(0) - 2);
  }
}

function movePoint(r, i, values) {  // values: {dimension: value}; the label and every control follow
  const st = runs[r], off = i * st.desc.w_dim;
  for (const [d, v] of Object.entries(values)) st.w[off + Number(d)] = v;
  followLabel(r, i);
  syncControls(r);
  requestEdit(r);
}

function padMove(r, i, event) {
  const st = runs[r], pad = st.ui.pads[i], g = padGeometry(pad), rect = pad.getBoundingClientRect();
  const fx = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
  const fy = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
  const [da, db] = st.dims[i];
  movePoint(r, i, { [da]: g.lo + fx * (g.hi - g.lo), [db]: g.lo + (1 - fy) * (g.hi - g.lo) });
}

function padKey(r, i, event) {  // arrow keys move the point a 40th of the pad (Shift: a 8th)
  const move = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowDown: [0, -1], ArrowUp: [0, 1] }[event.key];
  if (!move) return;
  event.preventDefault();
  const st = runs[r], g = padGeometry(st.ui.pads[i]), step = ((g.hi - g.lo) / 40) * (event.shiftKey ? 5 : 1);
  const [da, db] = st.dims[i], off = i * st.desc.w_dim;
  const clamp = (v) => Math.min(g.hi, Math.max(g.lo, v));
  movePoint(r, i, { [da]: clamp(st.w[off + da] + move[0] * step), [db]: clamp(st.w[off + db] + move[1] * step) });
}

function syncControls(r) {
  const st = runs[r];
  st.desc.attributes.forEach((_, i) => {
    const toggle = st.ui.labels[i];
    if (toggle) toggle.checked = st.target[i] > 0.5;
    drawPad(r, i);
    (st.ui.sliders[i] || []).forEach((slider, j) => {
      slider.value = String(st.w[i * st.desc.w_dim + j]);
      slider.nextSibling.textContent = ` ${Number(slider.value).toFixed(2)}`;
    });
    (st.ui.coords[i] || []).forEach((slider, d) => {
      const value = st.w[i * st.desc.w_dim + d], shown = st.dims[i].includes(d);
      slider.value = String(value);
      slider.nextSibling.textContent = ` ${value.toFixed(2)}${shown ? "" : " (held)"}`;
      slider.parentElement.classList.toggle("held", !shown);
    });
  });
}

function padControls(r, i, name, box) {  // a pad over two dimensions of W_i and a slider for every dimension
  const st = runs[r], desc = st.desc;
  const pad = $("canvas", { class: "pad", id: `pad-${r}-${i}`, width: 140, height: 140, tabindex: "0", role: "slider",
                            "aria-label": `${name}: W point (arrow keys move it)`,
                            "data-lo": desc.extent[i][0], "data-hi": desc.extent[i][1] });
  pad.addEventListener("pointerdown", (e) => { pad.setPointerCapture(e.pointerId); padMove(r, i, e); });
  pad.addEventListener("pointermove", (e) => { if (e.buttons) padMove(r, i, e); });
  pad.addEventListener("keydown", (e) => padKey(r, i, e));
  st.ui.pads[i] = pad;
  st.dims[i] = [0, Math.min(1, desc.w_dim - 1)];
  const axes = $("div", { class: "axes" });
  if (desc.w_dim > 2) {  // choose the two dimensions shown; the others hold their values, shown below
    for (const axis of [0, 1]) {
      const choose = $("select", { id: `dims-${r}-${i}-${axis}`, "aria-label": `${name}: pad axis ${axis ? "y" : "x"}` });
      for (let d = 0; d < desc.w_dim; d++) choose.append($("option", { value: d, text: `w${d + 1}` }));
      choose.value = String(st.dims[i][axis]);
      choose.addEventListener("change", () => { st.dims[i][axis] = Number(choose.value); syncControls(r); });
      axes.append($("span", { text: axis ? " y " : "x " }), choose);
    }
  }
  const [lo, hi] = desc.extent[i], coords = $("div", { class: "coords" });
  st.ui.coords[i] = [...Array(desc.w_dim).keys()].map((d) => {
    const slider = $("input", { type: "range", id: `coord-${r}-${i}-${d}`, min: lo, max: hi, step: (hi - lo) / 200,
                                "aria-label": `${name}: w${d + 1}` });
    slider.addEventListener("input", () => movePoint(r, i, { [d]: Number(slider.value) }));
    coords.append($("label", {}, `w${d + 1} `, slider, $("span", { class: "value", text: "" })));
    return slider;
  });
  const means = $("div", { class: "means" }, "all of W: ",
    $("button", { id: `mean0-${r}-${i}`, text: `mean of ${name} 0`, onclick: () => toMean(r, i, "0") }), " ",
    $("button", { id: `mean1-${r}-${i}`, text: `mean of ${name} 1`, onclick: () => toMean(r, i, "1") }));
  box.append(axes, pad, coords, means);
}

function toMean(r, i, value) {  // the whole W_i (every dimension, shown or held) to a class mean
  const mean = runs[r].desc.class_means[value][i];
  movePoint(r, i, Object.fromEntries(mean.map((v, d) => [d, v])));
}

function attributeControls(r, i, name) {
  const st = runs[r], desc = st.desc;
  const categorical = desc.label_kind === "categorical";
  const toggle = $("input", { type: categorical ? "radio" : "checkbox", id: `label-${r}-${i}`, name: `label-${r}` });
  toggle.addEventListener("change", () => setLabel(r, i, toggle.checked ? 1 : 0).catch((e) => showError(e.message, r)));
  st.ui.labels[i] = toggle;
  const box = $("div", { class: "attribute", "data-attribute": name },
    $("span", { class: "title", text: name }), $("label", {}, toggle, categorical ? " this class" : " label on"));
  if (desc.control === "pad") padControls(r, i, name, box);
  if (desc.control === "sliders") {
    const group = $("div", { class: "sliders" });
    st.ui.sliders[i] = desc.ranges[i].map(([lo, hi], j) => {
      const what = desc.model === "ccvae" ? "z_c" : "w";
      const slider = $("input", { type: "range", id: `slider-${r}-${i}-${j}`, min: lo, max: hi, step: (hi - lo) / 200,
                                  "aria-label": `${what} ${name} ${j + 1}` });
      slider.addEventListener("input", () => movePoint(r, i, { [j]: Number(slider.value) }));
      group.append($("label", {}, `${what} ${name} ${j + 1} `, slider, $("span", { text: "" })));
      return slider;
    });
    box.append(group);
  }
  if (desc.control !== "labels") {
    box.append($("div", { class: "buttons" },
      $("button", { id: `sample-${r}-${i}`, text: "sample a style", onclick: () => sampleStyle(r, i) }),
      $("button", { id: `reset-${r}-${i}`, text: "reset", onclick: () => resetStyle(r, i) })));
  }
  return box;
}

function download(name, href) { const a = $("a", { href, download: name }); document.body.append(a); a.click(); a.remove(); }

function exportJson(r) {  // names the run folder and the input's file (or test example, or upload), not server ids
  const st = runs[r], input = inputs.get(current) || {};
  const record = { run_folder: st.desc.run_dir, model: st.desc.model, data: st.desc.data,
                   input: input.source || input.name || null, input_name: input.name || null,
                   attributes: st.desc.attributes, labels: st.y, target: st.target, w: st.w, w_encoded: st.w0,
                   w_dim: st.desc.w_dim || null };
  const url = URL.createObjectURL(new Blob([JSON.stringify(record, null, 2)], { type: "application/json" }));
  download(`latent-${r}.json`, url);
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function buildRun(r, desc) {
  const st = { desc, seq: 0, shown: 0, inflight: false, pending: false, marks: new Map(), y: null, target: null,
               w: null, w0: null, dims: [], ui: { labels: [], pads: [], sliders: [], coords: [] } };
  runs[r] = st;
  const panel = $("section", { class: "run", id: `run-${r}`, "aria-label": desc.label }, $("h2", { text: desc.label }));
  const side = $("div", { class: "side" });
  if (desc.kind === "image") {
    st.ui.input = $("img", { id: `input-${r}`, alt: "input" });
    st.ui.recon = $("img", { id: `recon-${r}`, alt: "reconstruction" });
    st.ui.edit = $("img", { id: `edit-${r}`, alt: "edit", "data-seq": "0" });
    panel.append($("div", { class: "top" }, $("div", { class: "views" },
      $("figure", {}, st.ui.input, $("figcaption", { text: "input" })),
      $("figure", {}, st.ui.recon, $("figcaption", { text: "reconstruction" })),
      $("figure", {}, st.ui.edit, $("figcaption", { text: "edit" }))), side));
  } else {
    st.ui.edit = $("span", { id: `edit-${r}`, "data-seq": "0" });
    panel.append(st.ui.edit, side);
  }
  st.ui.probs = $("div", { class: "probs", id: `probs-${r}` });
  if (desc.judge) {
    st.ui.probs.append($("span", { text: "judge: " }));
    desc.judge.forEach((name) => st.ui.probs.append($("span", { class: "prob", "data-attribute": name },
      `${name} `, $("meter", { min: 0, max: 1, value: 0 }), " ", $("span", { class: "value", text: "" }))));
  }
  side.append(st.ui.probs);
  if (desc.control !== "labels" && desc.kind === "image") side.append(transferControls(r));
  side.append(exportControls(r));
  st.ui.error = $("div", { class: "run-error", id: `error-${r}`, role: "alert", hidden: "" });
  const attributes = $("div", { class: "attributes" });
  desc.attributes.forEach((name, i) => attributes.append(attributeControls(r, i, name)));
  panel.append(st.ui.error, attributes);
  if (desc.control === "pad") panel.append(padLegend(desc));
  document.getElementById("runs").append(panel);
}

function transferControls(r) {
  const st = runs[r], desc = st.desc;
  st.ui.donor = $("select", { class: "donor", id: `donor-${r}`, "aria-label": "donor image" });
  st.ui.donorAttribute = $("select", { id: `donor-attribute-${r}`, "aria-label": "attribute to transfer" });
  desc.attributes.forEach((name, i) => st.ui.donorAttribute.append($("option", { value: i, text: name })));
  return $("div", { class: "transfer" }, "Transfer from ", st.ui.donor, " its ", st.ui.donorAttribute, " ",
    $("button", { id: `transfer-${r}`, text: "transfer", onclick: () => transfer(r) }));
}

function exportControls(r) {
  const st = runs[r], box = $("div", { class: "exports" });
  if (st.desc.kind === "image") {
    st.ui.exportPng = $("button", { id: `export-png-${r}`, text: "export PNG" });
    st.ui.exportPng.addEventListener("click", () => download(`edit-${r}.png`, st.ui.exportPng.dataset.href));
    box.append(st.ui.exportPng, " ");
  }
  box.append($("button", { id: `export-json-${r}`, text: "export latent JSON", onclick: () => exportJson(r) }));
  return box;
}

function padLegend(desc) {  // what the marks on the pads mean
  const mark = (cls, text) => $("span", { class: cls, text });
  const codes = desc.scatter.some((points) => points.length)
    ? [mark("key red", "•"), " training codes with the label on, ", mark("key blue", "•"), " off; "]
    : ["no training codes (run csvae evaluate to draw them); "];
  return $("p", { class: "legend" }, "Pads: ", mark("key black", "●"), " the edit's point; ", ...codes,
    mark("key red", "□"), " ", mark("key blue", "□"), " the class means (on, off); ticks: the pad's range, the same on both axes.");
}

// ----- vector runs: the latent scatter of the test set and the data with the decoded point -----------
const SCATTER = 180;
const EDIT_COLOURS = ["#d9822b", "#2b9d3a", "#8a2bd9"];  // each run's decoded point (explore.css: .key.run0..2)
function scale(values) {
  const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
  return (v) => 8 + ((v - lo) / span) * (SCATTER - 16);
}

function drawScatter() {
  const points = state.runs[0].points;
  document.querySelectorAll("#vector canvas.latent").forEach((canvas, p) => {
    const panel = points.panels[p], sx = scale(panel.x), sy = scale(panel.y), ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, SCATTER, SCATTER);
    panel.x.forEach((v, k) => {
      const selected = points.ids[k] === current;
      ctx.fillStyle = selected ? "#111" : points.y[k][0] > 0.5 ? "rgba(200,60,40,0.5)" : "rgba(40,90,200,0.5)";
      const s = selected ? 6 : 2;
      ctx.fillRect(sx(v) - s / 2, SCATTER - sy(panel.y[k]) - s / 2, s, s);
    });
  });
  drawData();
}

function project(x) {  // 3-D data: a fixed oblique view; 2-D: as is
  if (x.length < 3) return [x[0], x.length > 1 ? x[1] : 0];
  return [x[0] + 0.5 * x[2], x[1] + 0.35 * x[2]];
}

function drawData() {
  const canvas = document.getElementById("data-plot");
  if (!canvas) return;
  const points = state.runs[0].points, flat = points.x.map(project);
  const sx = scale(flat.map((p) => p[0])), sy = scale(flat.map((p) => p[1])), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, SCATTER, SCATTER);
  flat.forEach((p, k) => {
    ctx.fillStyle = points.y[k][0] > 0.5 ? "rgba(200,60,40,0.35)" : "rgba(40,90,200,0.35)";
    ctx.fillRect(sx(p[0]) - 1, SCATTER - sy(p[1]) - 1, 2, 2);
  });
  runs.forEach((st, r) => {
    for (const [x, colour, size] of [[st.inputX, "#111", 4], [st.editX, EDIT_COLOURS[r % 3], 7]]) {
      if (!x) continue;
      const p = project(x);
      ctx.fillStyle = colour; ctx.beginPath(); ctx.arc(sx(p[0]), SCATTER - sy(p[1]), size / 2 + 1, 0, 2 * Math.PI); ctx.fill();
    }
  });
}

function buildVector() {
  const points = state.runs[0].points, box = document.getElementById("vector");
  box.hidden = false;
  document.getElementById("gallery").hidden = true;
  points.panels.forEach((panel, p) => {
    const canvas = $("canvas", { class: "latent", id: `latent-${p}`, width: SCATTER, height: SCATTER });
    canvas.addEventListener("click", (e) => {  // pick the nearest test point
      const rect = canvas.getBoundingClientRect(), sx = scale(panel.x), sy = scale(panel.y);
      let best = 0, dist = Infinity;
      panel.x.forEach((v, k) => {
        const d = (sx(v) - (e.clientX - rect.left)) ** 2 + (SCATTER - sy(panel.y[k]) - (e.clientY - rect.top)) ** 2;
        if (d < dist) { dist = d; best = k; }
      });
      select(points.ids[best]);
    });
    box.append($("figure", {}, canvas, $("figcaption", { text: `${panel.x_label} vs ${panel.y_label}` })));
  });
  box.append($("figure", {}, $("canvas", { id: "data-plot", width: SCATTER, height: SCATTER }),
    $("figcaption", {}, `data (x${points.x[0] && points.x[0].length > 2 ? " 3-D, oblique" : ""}): input `,
      $("span", { class: "key black", text: "●" }), " edit ",
      ...runs.map((_, r) => $("span", { class: `key run${r % 3}`, text: "●" })))));
}

async function main() {
  try {
    state = await api("/api/state");
  } catch (err) { showError(`cannot reach the explorer: ${err.message}`); return; }
  state.runs.forEach((desc, r) => buildRun(r, desc));
  document.getElementById("upload").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
  if (state.runs[0].kind === "vector") {
    document.querySelector("label.upload").hidden = true;
    buildVector();
    if (state.runs[0].points.ids.length) await select(state.runs[0].points.ids[0]);
  } else {
    state.images.forEach(addThumbnail);
    if (state.images.length) await select(state.images[0].id);
  }
  updateStatus();
  document.body.dataset.ready = "1";
}

main();
