/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay end to end, pulled cameras over time: camrelay's resident memory stays flat while a
 * snapshot camera is fetched thousands of times, flapping cameras are reconnected hundreds of
 * times and a camera's part never ends. Resident memory is behaviour only without sanitizers
 * (ASan keeps what is freed in quarantine), so tests/meson.build runs this suite on the optimised
 * build only; under LeakSanitizer the other suites check that nothing leaks. */
#include "e2e.h"
#include "testjpeg.h"
#include "wait.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

using namespace crtest;

namespace {

/* tests/e2e/pull/mjpegserver.py on a free port, serving small JPEGs, with @args. */
struct Helper
{
  TempDir dir;
  guint port = 0;
  std::unique_ptr<Process> proc;
  std::vector<Bytes> frames = make_jpegs (3);

  bool start (const char *, const std::vector<std::string> & args)
  {
    for (gsize i = 0; i < frames.size (); i++)
      dir.write ("frames/" + std::to_string (10 + i) + ".jpg", frames[i]);
    port = free_port ();
    std::vector<std::string> argv{ "/usr/bin/python3",
      source_path ("tests/e2e/pull/mjpegserver.py"), std::to_string (port), dir.file ("frames") };
    argv.insert (argv.end (), args.begin (), args.end ());
    proc = std::make_unique<Process> (argv);
    return proc->wait_for_output ("listening", 20000);
  }
  std::string url (const std::string & path) const
  {
    return "http://127.0.0.1:" + std::to_string (port) + path;
  }
};

std::string
camera_field (const Relay & relay, const char *camera, const char *field)
{
  Json j (relay.status_text ());
  return str_member (j.camera (camera), field);
}

/* The resident memory of process @pid in KiB; -1 if it cannot be read. */
gint64
rss_kib (int pid)
{
  g_autofree gchar *text = nullptr;
  g_autofree gchar *file = g_strdup_printf ("/proc/%d/status", pid);
  if (!g_file_get_contents (file, &text, nullptr, nullptr))
    return -1;
  const char *at = strstr (text, "VmRSS:");
  return at ? g_ascii_strtoll (at + 6, nullptr, 10) : -1;
}

}  // namespace

/* A snapshot camera fetched thousands of times (each fetch is a try's bin inside pulljpegsrc,
 * built and torn down): camrelay's memory stays flat once warm. It grew ~116 KB per fetch when
 * every try leaked. */
TEST (PullMemory, ThousandsOfSnapshotFetchesKeepMemoryFlat)
{
  Helper cam;
  ASSERT_TRUE (cam.start ("mjpegserver.py", { "--snapshot" }));
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera snap]\nsource = " + cam.url ("/capture") +
      "\nsnapshot-interval = 0.01\nmin-size = 0\n"))
      << relay.proc->output ();
  auto fetched = [&] { return camera_int (relay, "snap", "frames_accepted"); };
  ASSERT_TRUE (wait_until ([&] { return fetched () >= 300; }, 120000)) << relay.status_text ();
  gint64 warm = rss_kib (relay.proc->pid ());
  gint64 from = fetched ();
  ASSERT_TRUE (wait_until ([&] { return fetched () >= from + 2000; }, 300000))
      << relay.status_text ();
  gint64 grown = rss_kib (relay.proc->pid ()) - warm;
  g_print ("RSS %" G_GINT64_FORMAT " KiB warm, grew %" G_GINT64_FORMAT " KiB over 2000 fetches\n",
      warm, grown);
  /* 2,000 leaked pipelines were ~230 MB. */
  EXPECT_LE (grown, 4096) << "KiB over 2,000 fetches";
  EXPECT_EQ (camera_int (relay, "snap", "source_reconnects"), 0);
}

/* Cameras that flap (a few frames, half a part, the connection ends) are reconnected again and
 * again: each reconnect's bin, with the half part in its demuxer, goes. */
TEST (PullMemory, HundredsOfReconnectsKeepMemoryFlat)
{
  /* A camera that fails soon after its first frames backs off like one that never answers (1 s,
   * 2 s, 4 s ...): the reconnects come from many cameras, not from a storm of a few. */
  const int CAMERAS = 24;
  std::vector<std::unique_ptr<Helper>> cams;
  std::string config;
  for (int i = 0; i < CAMERAS; i++) {
    cams.push_back (std::make_unique<Helper> ());
    ASSERT_TRUE (cams.back ()->start ("mjpegserver.py", { "--close-after", "2", "--fps", "50" }));
    config += "[camera f" + std::to_string (i) + "]\nsource = " + cams.back ()->url ("/") +
        "\nmin-size = 0\n";
  }
  Relay relay;
  ASSERT_TRUE (relay.start (config)) << relay.proc->output ();
  auto reconnects = [&] {
    gint64 sum = 0;
    for (int i = 0; i < CAMERAS; i++)
      sum += camera_int (relay, ("f" + std::to_string (i)).c_str (), "source_reconnects");
    return sum;
  };
  /* Warm: every streaming thread's arena and GLib's caches have grown to their size. */
  ASSERT_TRUE (wait_until ([&] { return reconnects () >= 3 * CAMERAS; }, 120000))
      << relay.status_text ();
  gint64 warm = rss_kib (relay.proc->pid ());
  gint64 from = reconnects ();
  ASSERT_TRUE (wait_until ([&] { return reconnects () >= from + 3 * CAMERAS; }, 300000))
      << relay.status_text ();
  gint64 grown = rss_kib (relay.proc->pid ()) - warm;
  g_print ("RSS %" G_GINT64_FORMAT " KiB warm, grew %" G_GINT64_FORMAT " KiB over %d reconnects\n",
      warm, grown, 3 * CAMERAS);
  /* 300 leaked pipelines were ~50 MB: these 72, ~12 MB. */
  EXPECT_LE (grown, 6 * 1024) << "KiB over " << 3 * CAMERAS << " reconnects";
  EXPECT_TRUE (relay.proc->running ());
}

/* A camera whose part never ends is cut at the frame limit (16 MiB) on every try; what each try
 * buffered goes with it instead of piling up (it was +16 MB per try). */
TEST (PullMemory, EndlessPartsDoNotPileUp)
{
  Helper cam;
  ASSERT_TRUE (cam.start ("mjpegserver.py", { "--endless-part" }));
  Relay relay;
  ASSERT_TRUE (relay.start ("[camera endless]\nsource = " + cam.url ("/") + "\n"))
      << relay.proc->output ();
  auto tries = [&] { return camera_int (relay, "endless", "source_reconnects"); };
  ASSERT_TRUE (wait_until ([&] { return tries () >= 1; }, 30000)) << relay.status_text ();
  gint64 warm = rss_kib (relay.proc->pid ());
  /* Tries 2, 3 and 4 come after 1, 2 and 4 s. */
  ASSERT_TRUE (wait_until ([&] { return tries () >= 4; }, 60000)) << relay.status_text ();
  /* The next try is 8 s away: the memory is back well before (a try's last pieces are freed as
   * its threads end). */
  gint64 grown = 0;
  wait_until ([&] { return (grown = rss_kib (relay.proc->pid ()) - warm) <= 12 * 1024; }, 5000);
  g_print ("RSS %" G_GINT64_FORMAT " KiB after the first try, grew %" G_GINT64_FORMAT
           " KiB over 3 more\n",
      warm, grown);
  EXPECT_LE (grown, 12 * 1024) << "KiB over 3 tries of 16 MiB each";
  EXPECT_NE (camera_field (relay, "endless", "source_error").find ("without a complete frame"),
      std::string::npos)
      << relay.status_text ();
}
