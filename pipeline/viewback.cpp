/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: /view's controls for recordings (see viewback.h). */
#include "viewback.h"

#include <glib.h>

namespace camrelay {

namespace {

std::string
escape (const std::string & s)
{
  g_autofree gchar *e = g_markup_escape_text (s.c_str (), -1);
  return e;
}

std::string
path_escape (const std::string & s)
{
  g_autofree gchar *e = g_uri_escape_string (s.c_str (), nullptr, FALSE);
  return e;
}

}  // namespace

std::string
back_in_time_controls (const CameraStatus & camera)
{
  if ((camera.record.state == "off" && camera.timelapse.state == "off") ||
      camera.stream_path.empty ())
    return "";
  std::string rec = escape ("/recordings/" + path_escape (camera.name));
  return "<form class=\"back\" data-recordings=\"" + rec + "\" data-live=\"" +
      escape (camera.stream_path) +
      "\">"
      "<input type=\"datetime-local\" step=\"1\" name=\"at\" aria-label=\"moment to watch from\">"
      "<select name=\"speed\" aria-label=\"speed\">"
      "<option value=\"1\">1\u00d7</option><option value=\"2\">2\u00d7</option>"
      "<option value=\"4\">4\u00d7</option><option value=\"8\">8\u00d7</option>"
      "<option value=\"16\">16\u00d7</option><option value=\"64\">64\u00d7</option></select>"
      "<button type=\"submit\" name=\"play\">\u25b6 Watch</button>"
      "<button type=\"button\" name=\"live\">Live</button>"
      "<a class=\"timelapse\" download>Time-lapse of the day</a>"
      "</form>";
}

std::string
back_in_time_script ()
{
  return R"html(<style>
.back{display:flex;flex-wrap:wrap;gap:6px;align-items:center;padding:6px 10px;background:#1a1a1a}
.back input,.back select,.back button{font:inherit;font-size:12px;background:#333;color:#eee;border:1px solid #555;border-radius:4px;padding:2px 6px}
.back button[name=play]{background:#1f4f99}
.back a{color:#8ab4f8;font-size:12px;margin-left:auto}
figure.past .state{background:#6639ba}
figure:has(form.back) img{max-height:calc(100vh - 130px)}
</style>
<script>
"use strict";
/* The browser's local time in a datetime-local field, as an ISO 8601 instant. */
function backIso(value) { return new Date(value).toISOString(); }
function backLocal(d) {
  const p = n => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" +
    p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}
for (const form of document.querySelectorAll("form.back")) {
  const fig = form.closest("figure");
  const img = fig.querySelector("img");
  const at = form.elements.at;
  const link = form.querySelector("a.timelapse");
  at.value = backLocal(new Date(Date.now() - 3600 * 1000));
  const dayLink = () => {
    const start = new Date(at.value);
    start.setHours(0, 0, 0, 0);
    const end = new Date(start.getTime() + 86400 * 1000);
    link.href = form.dataset.recordings + "/timelapse.mp4?from=" + start.toISOString() +
      "&to=" + end.toISOString() + "&fps=30";
  };
  at.addEventListener("change", dayLink);
  dayLink();
  form.addEventListener("submit", e => {
    e.preventDefault();
    if (!at.value) return;
    fig.classList.add("past");
    fig.dataset.past = "1";
    img.src = form.dataset.recordings + "/play?from=" + encodeURIComponent(backIso(at.value)) +
      "&speed=" + form.elements.speed.value;
    fig.querySelector(".state").textContent = "recorded \u00d7" + form.elements.speed.value;
  });
  form.elements.live.addEventListener("click", () => {
    fig.classList.remove("past");
    delete fig.dataset.past;
    img.src = form.dataset.live + "?t=" + Date.now();
  });
}
</script>
)html";
}

}  // namespace camrelay
