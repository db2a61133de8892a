// The page of serve.py: a grid of generated images that follows the prompt as it is typed.
//
// Requests are debounced; each carries an increasing sequence number, and a response is drawn
// only if it is newer than the grid on screen, so an older prompt's images never replace a
// newer one's. The server drops this page's queued request when a newer one arrives (409).
"use strict";

const DEBOUNCE_MS = 20;
const WALK_STEPS = 24; // frames from one seed's latent to the next
const CLIENT = Math.random().toString(36).slice(2) + Date.now().toString(36);
const $ = (id) => document.getElementById(id);

let info = null;
let sent = 0; // sequence number of the last request sent
let shown = 0; // sequence number of the grid (or error) on screen
let timer = null;
let lastInputAt = 0;
let walking = false;
const stats = { renders: [] }; // keystroke-to-grid latencies, read by tests and benchmarks
window.serveStats = stats;

function clampInt(value, lo, hi, fallback) {
  const n = Math.round(Number(value));
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
}

function params() {
  return {
    prompt: $("prompt").value.trim(),
    seed: clampInt($("seed").value, 0, info ? info.max_seed : 2147483647, 0),
    count: clampInt($("count").value, 1, info ? info.max_count : 64, 8),
    truncation: Number($("truncation").value),
  };
}

function setTiming(text) { $("timing").textContent = text; }
function showError(text) { $("error").textContent = text ? "error: " + text : ""; }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));

function onInput() {
  lastInputAt = performance.now();
  clearTimeout(timer);
  timer = setTimeout(update, DEBOUNCE_MS);
}

async function update() {
  if (walking) return; // the walk follows the new prompt at its next frame
  const p = params();
  if (!p.prompt) { setTiming("type a prompt"); showError(""); return; }
  await request(p, lastInputAt, null);
}

// Send one request; draw its images if nothing newer is on screen. Returns whether it drew.
async function request(p, inputAt, walk) {
  const seq = ++sent;
  const body = { prompt: p.prompt, seed: p.seed, count: p.count, truncation: p.truncation, client: CLIENT };
  if (walk) { body.to = walk.to; body.t = walk.t; }
  let response, reply;
  try {
    response = await fetch("/api/generate", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    reply = await response.json();
  } catch (e) {
    if (seq > shown) showError("no answer from the server (" + e.message + ")");
    return false;
  }
  if (response.status === 409) return false; // replaced by this page's newer request
  if (!response.ok) {
    if (seq > shown) { shown = seq; showError(reply.error || response.statusText); }
    return false;
  }
  const images = await Promise.all(reply.images.map(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    return img;
  }));
  if (seq <= shown) return false; // a newer grid is already on screen
  shown = seq;
  draw(images, reply, walk);
  const latency = performance.now() - inputAt;
  const n = images.length, r = reply.resolution, gen = reply.generation_ms.toFixed(0);
  if (walk) {
    setTiming(`walk: ${n} images at ${r} px, generated in ${gen} ms, ${latency.toFixed(0)} ms per frame`);
  } else {
    stats.renders.push({ prompt: reply.prompt, seq, latency_ms: latency, generation_ms: reply.generation_ms, text_ms: reply.text_ms });
    setTiming(`${n} images at ${r} px, generated in ${gen} ms; ${latency.toFixed(0)} ms from keystroke to grid`);
  }
  showError("");
  return true;
}

function draw(images, reply, walk) {
  const grid = $("grid");
  const figures = images.map((img, i) => {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    const seed = reply.seeds[i];
    caption.textContent = walk ? `seed ${seed} → ${reply.to[i]}` : `seed ${seed}`;
    img.alt = `${reply.prompt} (seed ${seed})`;
    img.dataset.seed = String(seed);
    figure.append(img, caption);
    return figure;
  });
  grid.replaceChildren(...figures); // the whole grid at once: never half old, half new
  grid.dataset.prompt = reply.prompt;
  grid.dataset.seeds = reply.seeds.join(",");
  grid.dataset.truncation = String(reply.truncation);
  grid.dataset.walk = walk ? String(reply.t) : "";
  $("download").disabled = false;
}

async function walkLoop() {
  let from = params().seed;
  for (let step = 0; walking; step++) {
    const p = params();
    if (!p.prompt) { await sleep(100); continue; }
    const k = step % WALK_STEPS;
    let to = from + p.count;
    if (to + p.count - 1 > info.max_seed) to = 0;
    const t = (1 - Math.cos(Math.PI * k / WALK_STEPS)) / 2; // ease in and out of every seed
    const start = performance.now();
    const drew = await request({ ...p, seed: from }, start, { to, t });
    if (k === WALK_STEPS - 1) from = to;
    if (!drew) await sleep(200);
    await nextFrame();
  }
  update(); // back to the grid of the seed control
}

function toggleWalk() {
  walking = !walking;
  $("walk").setAttribute("aria-pressed", String(walking));
  $("walk").textContent = walking ? "stop walk" : "walk";
  if (walking) walkLoop();
}

// The grid on screen as one canvas, at the generator's resolution, 2 px apart.
function gridCanvas() {
  const images = [...$("grid").querySelectorAll("img")];
  if (!images.length) return null;
  const r = images[0].naturalWidth, pad = 2;
  const cols = Math.min(images.length, 8), rows = Math.ceil(images.length / cols);
  const canvas = document.createElement("canvas");
  canvas.width = cols * (r + pad) + pad;
  canvas.height = rows * (r + pad) + pad;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  images.forEach((img, i) => ctx.drawImage(img, pad + (i % cols) * (r + pad), pad + Math.floor(i / cols) * (r + pad)));
  return canvas;
}
window.serveGridPNG = () => { const c = gridCanvas(); return c ? c.toDataURL("image/png") : null; };

function download() {
  const canvas = gridCanvas();
  if (!canvas) return;
  const name = ($("grid").dataset.prompt || "grid").replace(/[^a-z0-9]+/gi, "-").slice(0, 60);
  canvas.toBlob((blob) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${name}_seeds-${$("grid").dataset.seeds.replaceAll(",", "-").slice(0, 40)}.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  });
}

function offer(suggestions) {
  const list = $("suggestions"), chips = $("chips");
  if (suggestions.length) $("prompt").placeholder = `describe an image, e.g. ${suggestions[0]}`;
  for (const text of suggestions) {
    const option = document.createElement("option");
    option.value = text;
    list.append(option);
  }
  for (const text of suggestions.slice(0, 8)) {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.textContent = text;
    chip.addEventListener("click", () => { $("prompt").value = text; onInput(); });
    chips.append(chip);
  }
}

async function start() {
  try {
    info = await (await fetch("/api/info")).json();
  } catch (e) {
    $("model").textContent = "the server did not answer: " + e.message;
    return;
  }
  $("model").textContent = `${info.resolution} px generator on ${info.device} (${info.precision}) from ${info.checkpoint}`;
  $("count").max = String(info.max_count);
  $("seed").max = String(info.max_seed);
  $("prompt").maxLength = info.max_prompt_chars;
  offer(info.suggestions);
  for (const id of ["prompt", "seed", "count"]) $(id).addEventListener("input", onInput);
  $("truncation").addEventListener("input", () => {
    $("truncation-value").textContent = Number($("truncation").value).toFixed(2);
    onInput();
  });
  $("walk").addEventListener("click", toggleWalk);
  $("download").addEventListener("click", download);
  document.body.dataset.ready = "true";
  if ($("prompt").value.trim()) update();
}

start();
