/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: the /view page, one self-contained HTML page of every camera. */
#define G_LOG_DOMAIN "camrelay"

#include "pages.h"

#include "viewback.h"
#include "viewwebrtc.h"

namespace camrelay {

static std::string
html_escape (const std::string & s)
{
  g_autofree gchar *e = g_markup_escape_text (s.c_str (), -1);
  return e;
}

/* @text escaped for a URL path segment. */
static std::string
path_escape (const std::string & text)
{
  g_autofree gchar *e = g_uri_escape_string (text.c_str (), nullptr, FALSE);
  return e;
}

std::string
view_html (const std::vector<CameraStatus> & cameras, const std::string & only)
{
  std::string figures;
  for (const auto & st : cameras) {
    if (!only.empty () && st.name != only)
      continue;
    std::string name = html_escape (st.name);
    /* Shown large: the page of one camera, or the only one. Large pictures play over WebRTC. */
    bool large = (!only.empty () || cameras.size () == 1) && !st.stream_path.empty ();
    figures += "<figure data-camera=\"" + name + "\"";
    if (large)
      figures += " class=\"large\" data-webrtc=\"/whep/" + html_escape (path_escape (st.name)) +
          "\" data-stream=\"" + html_escape (st.stream_path) + "\"";
    figures += ">";
    if (st.stream_path.empty ())
      figures += "<div class=\"nostream\">no stream</div>";
    else
      figures += std::string (large ? "<video muted autoplay playsinline hidden></video>" : "") +
          "<img src=\"" + html_escape (st.stream_path) + "\" alt=\"" + name + "\">";
    std::string title = large
        ? "<span class=\"name\">" + name + "</span>"
        : "<a class=\"name\" href=\"/view?camera=" + html_escape (path_escape (st.name)) +
            "\" title=\"open large\">" + name + "</a>";
    figures += "<figcaption>" + title + "<span class=\"state " + html_escape (st.state) + "\">" +
        html_escape (st.state) + "</span>" + (large ? webrtc_view_controls () : "") +
        "<span class=\"motion\"" + (st.motion.active ? "" : " hidden") +
        ">motion</span><span class=\"info\"></span>" +
        (st.source.empty () ? std::string ()
                            : "<span class=\"source\">" + html_escape (st.source) + "</span>") +
        "</figcaption>" + back_in_time_controls (st) + "</figure>\n";
  }
  figures += back_in_time_script ();
  figures += webrtc_view_script ();

  static const char *head = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>camrelay</title>
<style>
body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#111;color:#eee}
header{display:flex;justify-content:space-between;align-items:baseline;padding:8px 14px}
h1{margin:0;font-size:16px}
#server{color:#999;font-size:12px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px;padding:0 12px 12px}
figure{margin:0;background:#000;border-radius:6px;overflow:hidden}
img,.nostream{display:block;width:100%;aspect-ratio:4/3;max-height:calc(100vh - 90px);object-fit:contain;background:#000}
.nostream{display:flex;align-items:center;justify-content:center;color:#777}
figcaption{display:flex;gap:8px;align-items:center;padding:6px 10px;background:#222}
.name{font-weight:600}
a.name{color:inherit}
nav{padding:0 14px 8px}
.state{padding:0 8px;border-radius:9px;font-size:12px;background:#555}
.state.live{background:#1a7f37}
.state.placeholder{background:#9a6700}
.state.restarting,.state.offline{background:#a40e26}
.motion{padding:0 8px;border-radius:9px;font-size:12px;background:#cf222e;font-weight:600}
.motion[hidden]{display:none}
.info{margin-left:auto;color:#aaa;font-size:12px}
.source{color:#777;font-size:11px;overflow-wrap:anywhere}
</style>
</head>
<body>
<header><h1>camrelay</h1><span id="server"></span></header>
)html";

  static const char *tail = R"html(</main>
<script>
"use strict";
function ago(s) {
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}
/* A stream that failed (a restart, a network hiccup) is opened again after a pause. */
function reopenOnError(img) {
  img.addEventListener("error", () => {
    if (!img.isConnected) return;
    setTimeout(() => { img.src = img.src.split("?")[0] + "?t=" + Date.now(); }, 2000);
  });
}
function span(cls, text) {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}
/* The figure the page is served with, for a camera a reload added. */
function newFigure(c) {
  const fig = document.createElement("figure");
  fig.dataset.camera = c.name;
  let pic;
  if (c.paths.stream) {
    pic = document.createElement("img");
    pic.alt = c.name;
    pic.src = c.paths.stream;
    reopenOnError(pic);
  } else {
    pic = Object.assign(document.createElement("div"), {className: "nostream", textContent: "no stream"});
  }
  const cap = document.createElement("figcaption");
  const motion = span("motion", "motion");
  motion.hidden = true;
  cap.append(span("name", c.name), span("state " + c.state, c.state), motion, span("info", ""));
  if (c.source && c.source !== "websocket") cap.append(span("source", c.source));
  fig.append(pic, cap);
  return fig;
}
/* Cameras a reload added get a figure, removed ones lose theirs (and their stream). */
const ONLY = document.querySelector("main").dataset.only || "";
function followCameras(cameras) {
  const names = new Set(cameras.map(c => c.name));
  for (const fig of document.querySelectorAll("figure[data-camera]")) {
    if (names.has(fig.dataset.camera)) continue;
    const img = fig.querySelector("img");
    if (img) img.src = "";
    fig.remove();
  }
  const main = document.querySelector("main");
  for (const c of cameras) {
    if (ONLY && c.name !== ONLY) continue;
    if (!document.querySelector('figure[data-camera="' + c.name + '"]'))
      main.append(newFigure(c));
  }
}
async function refresh() {
  try {
    const r = await fetch("/status", {cache: "no-store"});
    const s = await r.json();
    document.getElementById("server").textContent =
      "camrelay " + s.version + ", up " + ago(s.uptime_seconds);
    followCameras(s.cameras);
    for (const c of s.cameras) {
      const fig = document.querySelector('figure[data-camera="' + c.name + '"]');
      if (!fig) continue;
      const state = fig.querySelector(".state");
      const img = fig.querySelector("img");
      /* A rebuilt pipeline ended the old response: open the stream again. */
      if (img && !fig.dataset.past && fig.dataset.transport !== "webrtc" &&
          fig.dataset.restarts !== undefined &&
          fig.dataset.restarts != c.restarts)
        img.src = c.paths.stream + "?t=" + Date.now();
      fig.dataset.restarts = c.restarts;
      fig.querySelector(".motion").hidden = !(c.motion && c.motion.active);
      if (!fig.dataset.past) {
        state.textContent = c.state;
        state.className = "state " + c.state;
      }
      fig.querySelector(".info").textContent =
        (c.connected ? c.frames_per_second.toFixed(1) + " fps from " + (c.peer || c.source) :
         c.source_state ? "source " + c.source_state + " (" + c.source_reconnects + " reconnects)" :
         "no camera") +
        " \u00b7 " + c.viewers + " watching" +
        (c.webrtc && c.webrtc.sessions ? " + " + c.webrtc.sessions + " over WebRTC" : "") + " \u00b7 " + c.state + " for " + ago(c.seconds_in_state);
    }
  } catch (e) {
    document.getElementById("server").textContent = "camrelay is not answering";
  }
}
for (const img of document.querySelectorAll("img")) reopenOnError(img);
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

  std::string main = only.empty () ? "<main>\n"
                                   : "<nav><a class=\"back-to-all\" href=\"/view\">\u2190 all "
                                     "cameras</a></nav><main data-only=\"" +
          html_escape (only) + "\">\n";
  return std::string (head) + main + figures + tail;
}

}  // namespace camrelay
