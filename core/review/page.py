"""The review's page: ``index.html``, the review's data as ``data.js``, and the player's script and styles
(``player.js``, ``player.css``, copied from this package's ``assets/``) — nothing else, nothing from the internet.

The data is a script (``window.RECAST_REVIEW = {...}``), not a JSON file, because a page opened from
``file://`` may not fetch files. The page's Content-Security-Policy allows only its own files and inline data:
no request can leave the folder.
"""

from __future__ import annotations

import html
import json
import os
import shutil

__all__ = ["write_page", "ASSETS"]

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'none'; form-action 'none'; base-uri 'none'")


def _page(title: str) -> str:
    e = html.escape(title)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{e}</title>
<link rel="stylesheet" href="player.css">
</head><body>
<header><h1>{e}</h1><span class="info" id="info"></span><span id="status">loading…</span></header>
<div id="toolbar">
  <button id="play">play</button><button id="skip">skip handles</button><span class="sep"></span>
  <span id="modes"></span><span class="sep"></span>
  A <select id="a"></select> B <select id="b"></select><span class="sep"></span>
  blend <input id="blend" type="range" min="0" max="1" step="0.01" value="0.5">
  <label><input id="matte" type="checkbox"> matte</label>
</div>
<div id="labels"></div>
<div id="stage"><canvas id="view"></canvas></div>
<div id="timeline"><div id="track"><input id="scrub" type="range" min="0" max="0" value="0">
  <div id="handles-bar"></div></div><span id="where"></span><span id="handle"></span><span id="loop"></span></div>
<canvas id="metrics" height="0"></canvas><div id="metrics-note"></div>
<div id="decisions"><h3>Decisions <button id="export">export decisions (JSON)</button></h3>
  <table><tbody id="decision-rows"></tbody></table></div>
<div id="keys">keys: space play/pause · ← → step · Home/End first/last · [ ] loop in/out · \\ clear loop · h skip handles ·
  t A/B toggle (or click the picture) · 1-7 modes · drag the wipe</div>
<script src="data.js"></script>
<script src="player.js"></script>
</body></html>
"""


def write_page(folder: str, data: dict) -> str:
    """Write the page, its data and the player into ``folder``; returns the page's path."""
    for name in ("player.js", "player.css"):
        shutil.copyfile(os.path.join(ASSETS, name), os.path.join(folder, name))
    with open(os.path.join(folder, "data.js"), "w", encoding="utf-8") as fh:
        fh.write("window.RECAST_REVIEW = ")
        json.dump(data, fh, ensure_ascii=True, indent=1)  # ASCII: read the same whatever encoding a browser assumes
        fh.write(";\n")
    page = os.path.join(folder, "index.html")
    with open(page, "w", encoding="utf-8") as fh:
        fh.write(_page(data["title"]))
    return page
