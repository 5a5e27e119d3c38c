/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Benchmark (issue 17): a day of time-lapse at one frame a minute (1,440 VGA JPEGs) made into
 * timelapse.mp4 by the real program, then asked for again (served from the cache).
 *
 *   build/tests/camrelay-timelapse-bench [PATTERN [QUALITY]]   (videotestsrc pattern, default snow)
 *
 * Prints the frame size, the time to make the MP4, and the time to serve it again (the best of
 * five), with the targets (≤ 20 s, ≤ 100 ms), and the progress lines the job logged.
 * tests/bench/record-bench.py runs it with the other targets of issue 17; figures in
 * docs/PERFORMANCE.md. */
#include "crmkvwriter.h"
#include "crrecordlayout.h"
#include "e2e.h"
#include "testjpeg.h"

#include <gst/gst.h>

#include <cstdio>

using namespace crtest;

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  JpegSpec spec;
  spec.pattern = argc > 1 ? argv[1] : "snow";
  spec.quality = argc > 2 ? atoi (argv[2]) : 85;
  const int FRAMES = 1440;
  /* 60 distinct frames, repeated: the encoder still gets a changing picture every minute. */
  auto pictures = make_jpegs (60, spec);
  gsize bytes = 0;
  for (const auto & p : pictures)
    bytes += p.size ();

  Relay relay;
  if (!relay.start ("[recordings]\ndir = rec\n[camera cam]\n")) {
    fprintf (stderr, "camrelay did not start\n");
    return 1;
  }
  const gint64 day = 1796515200; /* 2026-12-06T00:00:00Z */
  std::string path = relay.dir.path () + "/rec/cam/timelapse/" + cr::record::segment_relpath (day);
  g_autofree gchar *parent = g_path_get_dirname (path.c_str ());
  g_mkdir_with_parents (parent, 0755);
  cr::record::MkvWriter w;
  if (w.open (path, day, 640, 480) != 0)
    return 1;
  for (int i = 0; i < FRAMES; i++) {
    const auto & p = pictures[i % pictures.size ()];
    w.write_frame (static_cast<guint64> (i) * 60000, p.data (), p.size ());
  }
  w.finish ();

  const std::string url =
      "/recordings/cam/timelapse.mp4?from=2026-12-06T00:00:00Z&to=2026-12-07T00:00:00Z&fps=30";
  gint64 t0 = g_get_monotonic_time ();
  auto first = http_get (relay.port, url, "", 120000);
  double make_s = (g_get_monotonic_time () - t0) / 1e6;
  if (first.status != 200) {
    fprintf (stderr, "timelapse.mp4: %d %s\n", first.status, first.text ().c_str ());
    return 1;
  }
  double best_ms = 1e9;
  for (int i = 0; i < 5; i++) {
    gint64 t = g_get_monotonic_time ();
    auto again = http_get (relay.port, url);
    double ms = (g_get_monotonic_time () - t) / 1e3;
    if (again.status != 200 || again.body != first.body) {
      fprintf (stderr, "second request differs\n");
      return 1;
    }
    best_ms = MIN (best_ms, ms);
  }
  printf ("time-lapse of a day: %d frames, VGA %s q%d, %.0f KB a frame, MP4 %.1f MB\n", FRAMES,
      spec.pattern.c_str (), spec.quality, bytes / 1024.0 / pictures.size (),
      first.body.size () / 1e6);
  printf ("  made in        %6.2f s   (target <= 20 s)   %s\n", make_s,
      make_s <= 20 ? "ok" : "MISSED");
  printf ("  from the cache %6.1f ms  (target <= 100 ms) %s\n", best_ms,
      best_ms <= 100 ? "ok" : "MISSED");
  /* The job's log lines while it ran (one every 5 s). */
  std::string log = relay.proc->output ();
  int progress = 0;
  for (gsize at = log.find ("frames encoded"); at != std::string::npos;
       at = log.find ("frames encoded", at + 1))
    progress++;
  printf ("  progress lines %d\n", progress);
  return 0;
}
