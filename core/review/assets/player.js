// Recast review: the flipbook player. Hand-written plain JavaScript (no framework, nothing fetched): it reads the
// review's data (data.js: window.RECAST_REVIEW) and the frame proxies beside it, and draws into one canvas.
//
// Drawing never reads pixels back (a page opened from file:// may not: each file is its own origin), so the
// compare modes are canvas compositing: wipe = a clip rectangle, difference = 'difference' compositing,
// blend = globalAlpha, matte = a tinted matte laid over with 'screen'.
//
// Playback keeps up by doing little a frame: every proxy is decoded once, up front, into an ImageBitmap (a JPEG
// drawn from an <img> may be decoded again each time it is drawn once the browser's decoded-image cache is full),
// while they fit in BITMAP_BUDGET bytes; the metrics plot is drawn once per version and only its marker moves;
// text is set only when it changes.
(function () {
  "use strict";
  var D = window.RECAST_REVIEW;
  var W = D.size[0], H = D.size[1];
  var frames = D.frames, n = frames.length;
  var versions = D.versions; // the plate first
  var byKey = {};
  versions.forEach(function (v) { byKey[v.key] = v; });
  var MODES = [["single", "A"], ["ab", "A/B"], ["wipe", "wipe"], ["side", "side by side"],
               ["diff", "difference"], ["blend", "blend"], ["grid", "grid"]];
  // the job's shot range: frames outside it are the plate's handles (marked; skipped when skipHandles is on)
  var shotIn = Math.max(0, frames.indexOf((D.shot || [frames[0]])[0]));
  var shotOut = frames.indexOf((D.shot || [0, frames[n - 1]])[1]);
  if (shotOut < 0) shotOut = n - 1;
  var state = {
    i: shotIn, playing: false, mode: "single", a: versions[0].key, b: (versions[1] || versions[0]).key,
    showB: false, wipe: 0.5, blend: 0.5, matte: false, loopIn: 0, loopOut: n - 1, skipHandles: false
  };
  var stats = { shown: 0, expected: 0, dropped: 0, started: 0 };
  var images = {}, matteImages = {}, bitmaps = {};
  var BITMAP_BUDGET = 1536 * 1024 * 1024; // decoded proxies kept in memory at most (bytes)
  var view = document.getElementById("view"), ctx = view.getContext("2d");
  var tint = document.createElement("canvas"); tint.width = W; tint.height = H;
  var tctx = tint.getContext("2d");
  var $ = function (id) { return document.getElementById(id); };

  // ---- preloading: every proxy is loaded before playing, so playback never waits on the disk
  function preload(done) {
    var urls = [];
    versions.forEach(function (v) {
      images[v.key] = {};
      Object.keys(v.frames).forEach(function (f) { urls.push([images[v.key], f, v.frames[f]]); });
    });
    if (D.matte) Object.keys(D.matte.frames).forEach(function (f) { urls.push([matteImages, f, D.matte.frames[f]]); });
    var left = urls.length;
    if (!left) return done();
    urls.forEach(function (u) {
      var img = new Image();
      img.onload = img.onerror = function () {
        left -= 1;
        $("status").textContent = left ? "loading " + (urls.length - left) + "/" + urls.length : "";
        if (!left) done();
      };
      img.src = u[2];
      u[0][u[1]] = img;
    });
  }

  // every loaded proxy decoded once into an ImageBitmap (where they fit in the budget), then done()
  function decodeAll(done) {
    var all = [];
    Object.keys(images).forEach(function (key) {
      Object.keys(images[key]).forEach(function (f) {
        var img = images[key][f];
        if (img.naturalWidth) all.push([key, f, img]);
      });
    });
    var bytes = all.reduce(function (t, x) { return t + 4 * x[2].naturalWidth * x[2].naturalHeight; }, 0);
    if (!window.createImageBitmap || !all.length || bytes > BITMAP_BUDGET) return done();
    $("status").textContent = "decoding " + all.length + " frames";
    Promise.all(all.map(function (x) {
      return createImageBitmap(x[2]).then(function (bm) {
        (bitmaps[x[0]] = bitmaps[x[0]] || {})[x[1]] = bm;
      }, function () { /* kept as the <img> */ });
    })).then(function () { $("status").textContent = ""; done(); });
  }

  function frameImage(key, f) {
    var bm = (bitmaps[key] || {})[f];
    if (bm) return bm;
    var img = (images[key] || {})[f];
    return img && img.complete && img.naturalWidth ? img : null;
  }

  function drawOne(key, f, x, y) {
    var img = frameImage(key, f);
    if (img) {
      ctx.drawImage(img, x, y, W, H);
    } else { // a version without this frame (a preview of the first window)
      ctx.fillStyle = "#2a2a2e"; ctx.fillRect(x, y, W, H);
      ctx.fillStyle = "#777"; ctx.font = "12px sans-serif"; ctx.fillText("no frame", x + 6, y + 16);
    }
  }

  function drawMatte(f, x, y) {
    var m = matteImages[f];
    if (!state.matte || !m || !m.naturalWidth) return;
    tctx.globalCompositeOperation = "source-over";
    tctx.drawImage(m, 0, 0, W, H);
    tctx.globalCompositeOperation = "multiply";
    tctx.fillStyle = "rgb(255,40,40)"; tctx.fillRect(0, 0, W, H);
    ctx.save();
    ctx.globalCompositeOperation = "screen"; ctx.globalAlpha = 0.6;
    ctx.drawImage(tint, x, y);
    ctx.restore();
  }

  function resize(w, h) {
    if (view.width !== w || view.height !== h) { view.width = w; view.height = h; fit(); }
  }
  // the picture on screen: as large as the window allows (small proxies scaled up), its pixels unchanged
  function fit() {
    var room = Math.max(100, window.innerWidth - 30), tall = Math.max(100, window.innerHeight * 0.62);
    var scale = Math.min(room / view.width, tall / view.height);
    view.style.width = Math.floor(view.width * scale) + "px";
    view.style.height = Math.floor(view.height * scale) + "px";
  }
  window.addEventListener("resize", fit);

  function gridShape() {
    var cols = Math.ceil(Math.sqrt(versions.length));
    return [cols, Math.ceil(versions.length / cols)];
  }

  function draw() {
    var f = frames[state.i], a = state.a, b = state.b, m = state.mode;
    ctx.save();
    if (m === "side") {
      resize(2 * W, H); drawOne(a, f, 0, 0); drawMatte(f, 0, 0); drawOne(b, f, W, 0); drawMatte(f, W, 0);
    } else if (m === "grid") {
      var g = gridShape();
      resize(g[0] * W, g[1] * H);
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, view.width, view.height);
      versions.forEach(function (v, k) {
        var x = (k % g[0]) * W, y = Math.floor(k / g[0]) * H;
        drawOne(v.key, f, x, y); drawMatte(f, x, y);
        ctx.fillStyle = "rgba(0,0,0,0.55)"; ctx.fillRect(x, y + H - 15, W, 15);
        ctx.fillStyle = "#fff"; ctx.font = "11px sans-serif"; ctx.fillText(v.title, x + 4, y + H - 4);
      });
    } else {
      resize(W, H);
      if (m === "single") {
        drawOne(a, f, 0, 0);
      } else if (m === "ab") {
        drawOne(state.showB ? b : a, f, 0, 0);
      } else if (m === "wipe") {
        var x = Math.round(state.wipe * W);
        drawOne(a, f, 0, 0);
        ctx.save(); ctx.beginPath(); ctx.rect(x, 0, W - x, H); ctx.clip(); drawOne(b, f, 0, 0); ctx.restore();
        ctx.fillStyle = "rgba(255,255,255,0.8)"; ctx.fillRect(x, 0, 1, H);
      } else if (m === "diff") {
        drawOne(a, f, 0, 0);
        ctx.globalCompositeOperation = "difference"; drawOne(b, f, 0, 0);
        ctx.globalCompositeOperation = "source-over";
      } else if (m === "blend") {
        drawOne(a, f, 0, 0);
        ctx.globalAlpha = state.blend; drawOne(b, f, 0, 0); ctx.globalAlpha = 1;
      }
      drawMatte(f, 0, 0);
    }
    ctx.restore();
    $("scrub").value = state.i;
    setText("where", "frame " + f + "   " + timecode(f) + "   (" + (state.i + 1) + "/" + n + ")   " +
      D.fps.toFixed(3).replace(/\.?0+$/, "") + " fps");
    var handle = isHandle(state.i);
    setText("handle", handle ? "HANDLE (outside the shot " + frames[shotIn] + "-" + frames[shotOut] + ")" : "");
    if ($("stage").classList.contains("handle") !== handle) $("stage").classList.toggle("handle", handle);
    setText("loop", (state.loopIn > 0 || state.loopOut < n - 1) ?
      "loop " + frames[state.loopIn] + "-" + frames[state.loopOut] : "");
    showLabels();
    plotMetrics();
  }
  function setText(id, text) { var e = $(id); if (e.textContent !== text) e.textContent = text; }

  function timecode(f) {
    var base = Math.round(D.fps), pad = function (x) { return (x < 10 ? "0" : "") + x; };
    var ff = f % base, s = Math.floor(f / base);
    return pad(Math.floor(s / 3600) % 24) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60) + ":" + pad(ff);
  }

  function describe(v) {
    var l = v.labels || {}, parts = [];
    ["prompt", "seed", "model", "steps", "strength", "structure_level", "recast"].forEach(function (k) {
      if (l[k] !== undefined) parts.push(k + ": " + l[k]);
    });
    return v.title + (parts.length ? " — " + parts.join(" · ") : "");
  }

  function showLabels() {
    var m = state.mode, text;
    if (m === "grid") text = versions.length + " versions in sync";
    else if (m === "single") text = "A: " + describe(byKey[state.a]);
    else text = "A: " + describe(byKey[state.a]) + "   |   B: " + describe(byKey[state.b]) +
      (m === "ab" ? "   (showing " + (state.showB ? "B" : "A") + ")" : "");
    setText("labels", text);
  }

  // ---- metrics: recast eval's per-frame figures of the version compared (B, else A), current frame marked
  var COLOURS = { frame_consistency: "#5b9bea", prompt_consistency: "#e0b85a", warp_error: "#d0483f",
                  structure_fidelity: "#3fae5a" };
  var plotted = { key: null, width: -1, series: null }; // the plot of one version, drawn once
  function plotMetrics() {
    var c = $("metrics"), v = byKey[state.b].metrics ? byKey[state.b] : byKey[state.a], ms = v.metrics;
    var width = Math.max(parseInt(view.style.width, 10) || view.width, 400);
    var xOf = function (k) { return n > 1 ? 4 + k * (width - 8) / (n - 1) : width / 2; };
    if (plotted.key !== v.key || plotted.width !== width) {
      plotted.key = v.key; plotted.width = width;
      c.width = width; c.height = ms ? 90 : 0;
      var note = $("metrics-note");
      note.textContent = ms ? "metrics of " + v.title + " (recast eval; each scaled to its range, mean shown): " :
        "no metrics for these versions (run recast eval --job on one to see them here)";
      plotted.series = null;
      if (ms) {
        Object.keys(COLOURS).filter(function (k) { return ms[k]; }).forEach(function (k) {
          var s = document.createElement("span");
          s.style.color = COLOURS[k]; s.style.marginRight = "12px";
          s.textContent = k.replace(/_/g, " ") + (ms.means[k] !== undefined ? " " + Number(ms.means[k]).toFixed(3) : "");
          note.appendChild(s);
        });
        var off = document.createElement("canvas"), g = off.getContext("2d");
        off.width = c.width; off.height = c.height;
        g.fillStyle = "#111114"; g.fillRect(0, 0, off.width, off.height);
        Object.keys(COLOURS).forEach(function (k) {
          if (!ms[k]) return;
          var vals = frames.map(function (f) { return ms[k][f]; });
          var seen = vals.filter(function (x) { return x !== undefined; });
          var lo = Math.min.apply(null, seen), hi = Math.max.apply(null, seen), span = hi - lo || 1;
          g.strokeStyle = COLOURS[k]; g.lineWidth = 1.5; g.beginPath();
          var started = false;
          vals.forEach(function (x, j) {
            if (x === undefined) { started = false; return; }
            var y = off.height - 6 - (x - lo) / span * (off.height - 12);
            if (started) g.lineTo(xOf(j), y); else g.moveTo(xOf(j), y);
            started = true;
          });
          g.stroke();
        });
        plotted.series = off;
      }
    }
    if (!plotted.series) return;
    var cg = c.getContext("2d");
    cg.drawImage(plotted.series, 0, 0);
    cg.fillStyle = "#fff"; cg.fillRect(Math.round(xOf(state.i)), 0, 1, c.height);
  }

  // ---- transport
  function isHandle(i) { return i < shotIn || i > shotOut; }
  // the frames playback and stepping go through: the loop, within the shot when handles are skipped
  function span() {
    var lo = state.loopIn, hi = state.loopOut;
    if (state.skipHandles) {
      lo = Math.max(lo, shotIn); hi = Math.min(hi, shotOut);
      if (lo > hi) { lo = shotIn; hi = shotOut; } // a loop wholly in the handles: the shot instead
    }
    return [lo, hi];
  }
  var t0 = 0, i0 = 0;
  function tick(now) {
    if (!state.playing) return;
    var s = span(), elapsed = (now - t0) / 1000, len = s[1] - s[0] + 1;
    var ahead = Math.floor(elapsed * D.fps);
    var i = s[0] + ((i0 - s[0] + ahead) % len + len) % len;
    stats.expected = ahead + 1;
    if (i !== state.i) { state.i = i; draw(); stats.shown += 1; }
    stats.dropped = Math.max(0, stats.expected - stats.shown);
    requestAnimationFrame(tick);
  }
  function play(on) {
    state.playing = on === undefined ? !state.playing : on;
    $("play").textContent = state.playing ? "pause" : "play";
    if (state.playing) {
      var s = span();
      if (state.i < s[0] || state.i > s[1]) state.i = s[0];
      i0 = state.i; stats.shown = 1; stats.expected = 1; stats.dropped = 0;
      draw();
      requestAnimationFrame(function (now) { t0 = now; stats.started = now; requestAnimationFrame(tick); });
    }
  }
  function step(d) {
    play(false);
    if (state.skipHandles) { // within the shot (and the loop), wrapping round: never onto a handle
      var s = span(), len = s[1] - s[0] + 1, at = Math.min(s[1], Math.max(s[0], state.i));
      state.i = at !== state.i ? at : s[0] + ((state.i - s[0] + d) % len + len) % len;
    } else {
      state.i = Math.min(n - 1, Math.max(0, state.i + d));
    }
    draw();
  }
  function go(i) { // Home / End / the scrub bar: a frame, the nearest in the shot when handles are skipped
    play(false);
    var s = state.skipHandles ? span() : [0, n - 1];
    state.i = Math.min(s[1], Math.max(s[0], i));
    draw();
  }
  function skipHandles(on) {
    state.skipHandles = on === undefined ? !state.skipHandles : on;
    $("skip").classList.toggle("on", state.skipHandles);
    $("skip").textContent = state.skipHandles ? "handles skipped" : "skip handles";
    if (state.skipHandles && isHandle(state.i)) state.i = Math.min(shotOut, Math.max(shotIn, state.i));
    draw();
  }
  // the timeline's handles tinted: the shot's part of the bar plain, each handle's part shaded
  function markHandles() {
    var bar = $("handles-bar"), pct = function (k) { return (100 * k / n) + "%"; };
    bar.innerHTML = "";
    [[0, shotIn, "head"], [shotIn, shotOut + 1, "shot"], [shotOut + 1, n, "tail"]].forEach(function (p) {
      if (p[1] <= p[0]) return;
      var seg = document.createElement("span");
      seg.className = p[2] === "shot" ? "shot" : "handles";
      seg.style.left = pct(p[0]); seg.style.width = pct(p[1] - p[0]);
      seg.title = p[2] === "shot" ? "the shot " + frames[shotIn] + "-" + frames[shotOut] :
        "handles " + frames[p[0]] + "-" + frames[p[1] - 1];
      bar.appendChild(seg);
    });
    $("skip").disabled = shotIn === 0 && shotOut === n - 1;
    $("skip").title = $("skip").disabled ? "this review has no handles" : "play and step within the shot only (h)";
  }
  function setMode(m) {
    state.mode = m;
    Array.prototype.forEach.call(document.querySelectorAll("[data-mode]"), function (b) {
      b.classList.toggle("on", b.getAttribute("data-mode") === m);
    });
    view.classList.toggle("wipe", m === "wipe");
    draw();
  }

  // ---- decisions: approve / reject and a note per version, kept in this browser, exported as a JSON file
  var STORE = "recast-review:" + D.id;
  function decisions() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; }
  }
  function decide(key, field, value) {
    var all = decisions();
    all[key] = all[key] || {};
    all[key][field] = value;
    try { localStorage.setItem(STORE, JSON.stringify(all)); } catch (e) { /* storage off: kept for this visit */ }
    memory = all;
    showDecisions();
  }
  var memory = null;
  function current() { return memory || decisions(); }
  function exportDecisions() {
    var all = current();
    return JSON.stringify({
      schema: "recast.review-decisions/1", job: D.job, plate: D.plate, exported: new Date().toISOString(),
      decisions: versions.filter(function (v) { return v.kind !== "plate"; }).map(function (v) {
        var d = all[v.key] || {};
        return { version: v.key, title: v.title, job: v.job || null, output: v.pattern, labels: v.labels || {},
                 decision: d.decision || null, note: d.note || "" };
      })
    }, null, 2);
  }
  function download() {
    var a = document.createElement("a");
    a.href = "data:application/json;charset=utf-8," + encodeURIComponent(exportDecisions());
    a.download = "recast_picks.json";
    document.body.appendChild(a); a.click(); a.remove();
  }
  function showDecisions() {
    var all = current(), body = $("decision-rows");
    body.innerHTML = "";
    versions.forEach(function (v) {
      if (v.kind === "plate") return;
      var d = all[v.key] || {}, tr = document.createElement("tr");
      tr.className = d.decision || "";
      var td = function (child) { var c = document.createElement("td"); c.appendChild(child); tr.appendChild(c); };
      td(document.createTextNode(describe(v)));
      var buttons = document.createElement("span");
      [["approve", "approved"], ["reject", "rejected"]].forEach(function (b) {
        var btn = document.createElement("button");
        btn.textContent = b[0]; btn.className = b[0] + (d.decision === b[1] ? " on" : "");
        btn.setAttribute("data-decide", v.key + ":" + b[1]);
        btn.onclick = function () { decide(v.key, "decision", d.decision === b[1] ? null : b[1]); };
        buttons.appendChild(btn);
      });
      td(buttons);
      var note = document.createElement("input");
      note.className = "note"; note.value = d.note || ""; note.placeholder = "note";
      note.setAttribute("data-note", v.key);
      note.onchange = function () { decide(v.key, "note", note.value); };
      note.onkeydown = function (e) { e.stopPropagation(); };
      td(note);
      body.appendChild(tr);
    });
  }

  // ---- the page's controls
  function fillSelect(sel, value, onchange) {
    versions.forEach(function (v) {
      var o = document.createElement("option"); o.value = v.key; o.textContent = v.title; sel.appendChild(o);
    });
    sel.value = value;
    sel.onchange = function () { onchange(sel.value); draw(); };
  }
  function setup() {
    var bar = $("modes");
    MODES.forEach(function (m) {
      var b = document.createElement("button");
      b.textContent = m[1]; b.setAttribute("data-mode", m[0]);
      b.onclick = function () { setMode(m[0]); };
      bar.appendChild(b);
    });
    fillSelect($("a"), state.a, function (k) { state.a = k; });
    fillSelect($("b"), state.b, function (k) { state.b = k; });
    $("blend").oninput = function () { state.blend = Number($("blend").value); draw(); };
    var mt = $("matte");
    mt.disabled = !D.matte;
    mt.parentNode.title = D.matte ? "the matte the render used" : "this render used no matte";
    mt.onchange = function () { state.matte = mt.checked; draw(); };
    $("play").onclick = function () { play(); };
    $("scrub").max = n - 1;
    $("scrub").oninput = function () { go(Number($("scrub").value)); };
    $("skip").onclick = function () { skipHandles(); };
    markHandles();
    $("export").onclick = download;
    var dragging = false;
    function wipeAt(e) {
      var r = view.getBoundingClientRect();
      state.wipe = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)); draw();
    }
    view.onmousedown = function (e) {
      if (state.mode === "wipe") { dragging = true; wipeAt(e); }
      else if (state.mode === "ab") { state.showB = !state.showB; draw(); }
    };
    window.addEventListener("mousemove", function (e) { if (dragging) wipeAt(e); });
    window.addEventListener("mouseup", function () { dragging = false; });
    document.addEventListener("keydown", function (e) {
      var k = e.key;
      if (k === "ArrowRight") step(1);
      else if (k === "ArrowLeft") step(-1);
      else if (k === " ") play();
      else if (k === "Home") go(0);
      else if (k === "End") go(n - 1);
      else if (k === "h") skipHandles();
      else if (k === "[") { state.loopIn = Math.min(state.i, state.loopOut); draw(); }
      else if (k === "]") { state.loopOut = Math.max(state.i, state.loopIn); draw(); }
      else if (k === "\\") { state.loopIn = 0; state.loopOut = n - 1; draw(); }
      else if (k === "t") { state.showB = !state.showB; draw(); }
      else if (k >= "1" && k <= String(MODES.length)) setMode(MODES[Number(k) - 1][0]);
      else return;
      e.preventDefault();
    });
    showDecisions();
    setMode(versions.length > 1 ? "wipe" : "single");
  }

  window.recastReview = {
    state: state, stats: stats, draw: draw, step: step, play: play, setMode: setMode, ready: false,
    skipHandles: skipHandles, isHandle: isHandle, shot: [shotIn, shotOut],
    decoded: function () { // how many proxies are drawn from decoded ImageBitmaps
      return Object.keys(bitmaps).reduce(function (t, k) { return t + Object.keys(bitmaps[k]).length; }, 0);
    },
    exportDecisions: exportDecisions, decide: decide, gridShape: gridShape, timecode: timecode
  };
  setup();
  preload(function () { decodeAll(function () { window.recastReview.ready = true; draw(); }); });
})();
