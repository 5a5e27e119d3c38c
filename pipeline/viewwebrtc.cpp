/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: WebRTC on /view (see viewwebrtc.h). */
#include "viewwebrtc.h"

namespace camrelay {

std::string
webrtc_view_controls ()
{
  return "<span class=\"transport\" title=\"how the picture comes\">MJPEG</span>"
         "<button type=\"button\" class=\"switch\">WebRTC</button>";
}

std::string
webrtc_view_script ()
{
  return R"html(<style>
figure.large video{display:block;width:100%;aspect-ratio:4/3;max-height:calc(100vh - 90px);object-fit:contain;background:#000}
figure.large video[hidden],figure.large img[hidden]{display:none}
.transport{padding:0 8px;border-radius:9px;font-size:12px;background:#444}
.transport.webrtc{background:#1f4f99}
.transport.trying{background:#555}
button.switch{font:inherit;font-size:12px;background:#333;color:#eee;border:1px solid #555;border-radius:4px;padding:1px 6px}
a.back-to-all{color:#8ab4f8;font-size:12px}
</style>
<script>
"use strict";
/* WebRTC for the figures shown large. States: "webrtc" (video plays), "trying" (negotiating,
 * the MJPEG picture stays up meanwhile), "mjpeg" (the fallback, or the viewer's choice). */
const RTC_FIRST_FRAME_MS = 6000; /* from the start: no decoded frame by then, fall back */
const RTC_STALL_MS = 6000;       /* no new frame for this long while playing: fall back */
function rtcSetMode(fig, mode, why) {
  const video = fig.querySelector("video"), img = fig.querySelector("img");
  const badge = fig.querySelector(".transport"), button = fig.querySelector("button.switch");
  fig.dataset.transport = mode;
  badge.className = "transport " + mode;
  badge.textContent = mode === "webrtc" ? "WebRTC" : mode === "trying" ? "WebRTC\u2026" : "MJPEG";
  badge.title = why || "";
  button.textContent = mode === "mjpeg" ? "WebRTC" : "MJPEG";
  video.hidden = mode !== "webrtc";
  img.hidden = mode === "webrtc";
  if (mode === "webrtc") {
    img.dataset.live = img.src;
    img.removeAttribute("src"); /* no MJPEG bytes while WebRTC plays */
  } else if (!img.getAttribute("src") && !fig.dataset.past) {
    img.src = fig.dataset.stream + "?t=" + Date.now();
  }
}
async function rtcStop(fig) {
  const s = fig.rtc;
  fig.rtc = null;
  if (!s) return;
  clearInterval(s.watch);
  try { s.pc.close(); } catch (e) {}
  const video = fig.querySelector("video");
  video.srcObject = null;
  if (s.location)
    fetch(s.location, {method: "DELETE"}).catch(() => {});
}
async function rtcFallBack(fig, why) {
  await rtcStop(fig);
  rtcSetMode(fig, "mjpeg", "WebRTC: " + why);
}
function rtcGathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise(done => {
    const t = setTimeout(done, ms);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(t); done(); }
    });
  });
}
async function rtcFramesDecoded(pc) {
  let n = 0;
  (await pc.getStats()).forEach(r => {
    if (r.type === "inbound-rtp" && r.kind === "video") n = r.framesDecoded || 0;
  });
  return n;
}
async function rtcStart(fig) {
  if (!window.RTCPeerConnection) { rtcSetMode(fig, "mjpeg", "this browser has no WebRTC"); return; }
  await rtcStop(fig);
  rtcSetMode(fig, "trying");
  const pc = new RTCPeerConnection();
  const s = {pc, location: null, watch: 0};
  fig.rtc = s;
  const video = fig.querySelector("video");
  /* One watchdog from the start: a slow answer counts against the same few seconds. */
  const started = Date.now();
  let last = 0, lastAt = Date.now();
  s.watch = setInterval(async () => {
    if (fig.rtc !== s) return;
    const n = await rtcFramesDecoded(pc);
    if (n > last) {
      last = n;
      lastAt = Date.now();
      if (fig.dataset.transport !== "webrtc") {
        rtcSetMode(fig, "webrtc", "");
        video.play().catch(() => {});
      }
    } else if (last === 0 && Date.now() - started > RTC_FIRST_FRAME_MS) {
      rtcFallBack(fig, "no picture within " + RTC_FIRST_FRAME_MS / 1000 + " s");
    } else if (last > 0 && Date.now() - lastAt > RTC_STALL_MS) {
      rtcFallBack(fig, "the picture stopped");
    }
  }, 250);
  try {
    pc.addTransceiver("video", {direction: "recvonly"});
    pc.ontrack = e => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.onconnectionstatechange = () => {
      if (fig.rtc === s && pc.connectionState === "failed") rtcFallBack(fig, "the connection failed");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await rtcGathered(pc, 2000); /* camrelay answers whole offers: no trickle */
    const r = await fetch(fig.dataset.webrtc, {method: "POST",
      headers: {"Content-Type": "application/sdp"}, body: pc.localDescription.sdp});
    const location = r.headers.get("Location");
    if (fig.rtc !== s) {
      /* Given up meanwhile: the session the answer opened ends at once. */
      if (r.status === 201 && location) fetch(location, {method: "DELETE"}).catch(() => {});
      return;
    }
    if (r.status !== 201) throw new Error("the offer was answered " + r.status);
    s.location = location;
    await pc.setRemoteDescription({type: "answer", sdp: await r.text()});
  } catch (e) {
    if (fig.rtc === s) rtcFallBack(fig, e.message || String(e));
  }
}
for (const fig of document.querySelectorAll("figure.large[data-webrtc]")) {
  fig.querySelector("button.switch").addEventListener("click", () => {
    if (fig.dataset.transport === "mjpeg") rtcStart(fig);
    else rtcFallBack(fig, "switched by the viewer");
  });
  /* Watching a recording plays it in the picture: WebRTC gives way. */
  const back = fig.querySelector("form.back");
  if (back) back.addEventListener("submit", () => {
    if (fig.dataset.transport !== "mjpeg") rtcFallBack(fig, "watching a recording");
  });
  rtcStart(fig);
}
window.addEventListener("pagehide", () => {
  for (const fig of document.querySelectorAll("figure.large")) rtcStop(fig);
});
</script>
)html";
}

}  // namespace camrelay
