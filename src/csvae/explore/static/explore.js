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

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
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
    }
  } catch (err) { showError(err.message); }
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
  document.querySelectorAll("#gallery img").forEach((img) => img.classList.toggle("selected", img.dataset.id === id));
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

function addThumbnail(image) {
  const img = $("img", { src: `/api/thumbnail?id=${encodeURIComponent(image.id)}`, alt: image.name,
                         title: image.name, loading: "lazy", "data-id": image.id });
  img.addEventListener("click", () => select(image.id));
  document.getElementById("gallery").append(img);
  document.querySelectorAll("select.donor").forEach((s) => s.append($("option", { value: image.id, text: image.name })));
}

async function upload(file) {
  try {
    const res = await fetch("/api/upload", { method: "POST", body: file,
      headers: { "X-Filename": encodeURIComponent(file.name), "Content-Type": "application/octet-stream" } });
    const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok) throw new Error(data.error || `${res.status}`);
    addThumbnail(data);
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
    syncControls(r);
    requestEdit(r);
  } catch (err) { showError(err.message); }
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
    syncControls(r);
    requestEdit(r);
  } catch (err) { showError(err.message); }
}

function padGeometry(pad) { return { lo: Number(pad.dataset.lo), hi: Number(pad.dataset.hi), size: pad.width }; }

function drawPad(r, i) {
  const st = runs[r], pad = st.ui.pads[i];
  if (!pad || !st.w) return;
  const ctx = pad.getContext("2d"), g = padGeometry(pad), [da, db] = st.dims[i], off = i * st.desc.w_dim;
  const px = (v) => ((v - g.lo) / (g.hi - g.lo)) * g.size, py = (v) => g.size - px(v);
  ctx.clearRect(0, 0, g.size, g.size);
  ctx.strokeStyle = "#ddd";
  ctx.beginPath(); ctx.moveTo(px(0), 0); ctx.lineTo(px(0), g.size); ctx.moveTo(0, py(0)); ctx.lineTo(g.size, py(0)); ctx.stroke();
  for (const [point, label] of st.desc.scatter[i]) {
    ctx.fillStyle = label ? "rgba(200,60,40,0.35)" : "rgba(40,90,200,0.35)";
    ctx.fillRect(px(point[da]) - 1, py(point[db]) - 1, 2, 2);
  }
  for (const [value, colour] of [["0", "#285ac8"], ["1", "#c83c28"]]) {
    const m = st.desc.class_means[value][i];
    ctx.strokeStyle = colour; ctx.strokeRect(px(m[da]) - 4, py(m[db]) - 4, 8, 8);
  }
  ctx.fillStyle = "#111";
  ctx.beginPath(); ctx.arc(px(st.w[off + da]), py(st.w[off + db]), 5, 0, 2 * Math.PI); ctx.fill();
}

function padMove(r, i, event) {
  const st = runs[r], pad = st.ui.pads[i], g = padGeometry(pad), rect = pad.getBoundingClientRect();
  const fx = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
  const fy = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
  const [da, db] = st.dims[i], off = i * st.desc.w_dim;
  st.w[off + da] = g.lo + fx * (g.hi - g.lo);
  st.w[off + db] = g.lo + (1 - fy) * (g.hi - g.lo);
  drawPad(r, i);
  requestEdit(r);
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
  });
}

function attributeControls(r, i, name) {
  const st = runs[r], desc = st.desc;
  const categorical = desc.label_kind === "categorical";
  const toggle = $("input", { type: categorical ? "radio" : "checkbox", id: `label-${r}-${i}`, name: `label-${r}` });
  toggle.addEventListener("change", () => setLabel(r, i, toggle.checked ? 1 : 0).catch((e) => showError(e.message)));
  st.ui.labels[i] = toggle;
  const box = $("div", { class: "attribute", "data-attribute": name },
    $("span", { class: "title", text: name }), $("label", {}, toggle, categorical ? " this class" : " label on"));
  if (desc.control === "pad") {
    const pad = $("canvas", { class: "pad", id: `pad-${r}-${i}`, width: 150, height: 150,
                              "data-lo": desc.extent[i][0], "data-hi": desc.extent[i][1] });
    pad.addEventListener("pointerdown", (e) => { pad.setPointerCapture(e.pointerId); padMove(r, i, e); });
    pad.addEventListener("pointermove", (e) => { if (e.buttons) padMove(r, i, e); });
    st.ui.pads[i] = pad;
    st.dims[i] = [0, Math.min(1, desc.w_dim - 1)];
    if (desc.w_dim > 2) {  // choose the two dimensions shown; the others are held
      for (const axis of [0, 1]) {
        const choose = $("select", { id: `dims-${r}-${i}-${axis}`, "aria-label": `pad axis ${axis ? "y" : "x"}` });
        for (let d = 0; d < desc.w_dim; d++) choose.append($("option", { value: d, text: `w${d + 1}` }));
        choose.value = String(st.dims[i][axis]);
        choose.addEventListener("change", () => { st.dims[i][axis] = Number(choose.value); drawPad(r, i); });
        box.append($("span", { text: axis ? " y: " : " x: " }), choose);
      }
    }
    box.append(pad);
  }
  if (desc.control === "sliders") {
    const group = $("div", { class: "sliders" });
    st.ui.sliders[i] = desc.ranges[i].map(([lo, hi], j) => {
      const slider = $("input", { type: "range", id: `slider-${r}-${i}-${j}`, min: lo, max: hi, step: (hi - lo) / 200 });
      slider.addEventListener("input", () => {
        st.w[i * desc.w_dim + j] = Number(slider.value);
        slider.nextSibling.textContent = ` ${Number(slider.value).toFixed(2)}`;
        requestEdit(r);
      });
      const what = desc.model === "ccvae" ? "z_c" : "w";
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

function exportJson(r) {
  const st = runs[r];
  const record = { run: st.desc.label, model: st.desc.model, image: current, attributes: st.desc.attributes,
                   labels: st.y, target: st.target, w: st.w, w_encoded: st.w0, w_dim: st.desc.w_dim || null };
  const url = URL.createObjectURL(new Blob([JSON.stringify(record, null, 2)], { type: "application/json" }));
  download(`latent-${r}.json`, url);
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function buildRun(r, desc) {
  const st = { desc, seq: 0, shown: 0, inflight: false, pending: false, marks: new Map(), y: null, target: null,
               w: null, w0: null, dims: [], ui: { labels: [], pads: [], sliders: [] } };
  runs[r] = st;
  const panel = $("section", { class: "run", id: `run-${r}` }, $("h2", { text: desc.label }));
  if (desc.kind === "image") {
    st.ui.input = $("img", { id: `input-${r}`, alt: "input" });
    st.ui.recon = $("img", { id: `recon-${r}`, alt: "reconstruction" });
    st.ui.edit = $("img", { id: `edit-${r}`, alt: "edit", "data-seq": "0" });
    panel.append($("div", { class: "views" },
      $("figure", {}, st.ui.input, $("figcaption", { text: "input" })),
      $("figure", {}, st.ui.recon, $("figcaption", { text: "reconstruction" })),
      $("figure", {}, st.ui.edit, $("figcaption", { text: "edit" }))));
  } else {
    st.ui.edit = $("span", { id: `edit-${r}`, "data-seq": "0" });
    panel.append(st.ui.edit);
  }
  st.ui.probs = $("div", { class: "probs", id: `probs-${r}` });
  if (desc.judge) {
    st.ui.probs.append($("span", { text: "judge: " }));
    desc.judge.forEach((name) => st.ui.probs.append($("span", { class: "prob", "data-attribute": name },
      `${name} `, $("meter", { min: 0, max: 1, value: 0 }), " ", $("span", { class: "value", text: "" }))));
  }
  panel.append(st.ui.probs);
  const attributes = $("div", { class: "attributes" });
  desc.attributes.forEach((name, i) => attributes.append(attributeControls(r, i, name)));
  panel.append(attributes);
  if (desc.control !== "labels" && desc.kind === "image") {
    st.ui.donor = $("select", { class: "donor", id: `donor-${r}`, "aria-label": "donor image" });
    st.ui.donorAttribute = $("select", { id: `donor-attribute-${r}`, "aria-label": "attribute to transfer" });
    desc.attributes.forEach((name, i) => st.ui.donorAttribute.append($("option", { value: i, text: name })));
    panel.append($("div", { class: "transfer" }, "Transfer from ", st.ui.donor, " its ", st.ui.donorAttribute, " ",
      $("button", { id: `transfer-${r}`, text: "transfer", onclick: () => transfer(r) })));
  }
  if (desc.kind === "image") {
    st.ui.exportPng = $("button", { id: `export-png-${r}`, text: "export PNG" });
    st.ui.exportPng.addEventListener("click", () => download(`edit-${r}.png`, st.ui.exportPng.dataset.href));
    panel.append($("div", { class: "exports" }, st.ui.exportPng,
      $("button", { id: `export-json-${r}`, text: "export latent JSON", onclick: () => exportJson(r) })));
  } else {
    panel.append($("div", { class: "exports" },
      $("button", { id: `export-json-${r}`, text: "export latent JSON", onclick: () => exportJson(r) })));
  }
  document.getElementById("runs").append(panel);
}

// ----- vector runs: the latent scatter of the test set and the data with the decoded point -----------
const SCATTER = 180;
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
    for (const [x, colour, size] of [[st.inputX, "#111", 4], [st.editX, ["#d9822b", "#2b9d3a", "#8a2bd9"][r % 3], 7]]) {
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
    $("figcaption", { text: `data (x${points.x[0] && points.x[0].length > 2 ? " 3-D, oblique" : ""}): input ● edit ●` })));
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
  document.getElementById("status").textContent = `${state.runs.length} run(s), ${state.images.length} inputs`;
  document.body.dataset.ready = "1";
}

main();
