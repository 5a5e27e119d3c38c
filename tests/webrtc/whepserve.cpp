/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A WHEP endpoint alone on a camrelay server, fed by its own x264enc (videotestsrc): the WebRTC
 * suite's way to test WHEP signalling and sessions apart from the program's cameras.
 *
 *   whepserve ADDRESS PORT PATH WIDTH HEIGHT FPS [USER PASSWORD]
 *
 * Prints "listening PORT" once serving, then "subscribers N" whenever the number of feed
 * subscribers changes and "keyframe" for every key frame asked for; ends when stdin closes. */
#include "crserver.h"
#include "crwhep.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

namespace {

class TestFeed : public cr::H264Feed
{
public:
  explicit TestFeed (GstElement *encoder) : encoder_ (encoder) {}

  guint64 subscribe (Callback cb) override
  {
    std::lock_guard<std::mutex> lock (lock_);
    subs_[++next_] = std::move (cb);
    printf ("subscribers %zu\n", subs_.size ());
    fflush (stdout);
    return next_;
  }
  void unsubscribe (guint64 id) override
  {
    std::lock_guard<std::mutex> lock (lock_);
    subs_.erase (id);
    printf ("subscribers %zu\n", subs_.size ());
    fflush (stdout);
  }
  void request_keyframe () override
  {
    printf ("keyframe\n");
    fflush (stdout);
    GstStructure *s =
        gst_structure_new ("GstForceKeyUnit", "all-headers", G_TYPE_BOOLEAN, TRUE, nullptr);
    gst_element_send_event (encoder_, gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s));
  }
  void deliver (GstSample *sample)
  {
    std::lock_guard<std::mutex> lock (lock_);
    for (auto & [id, cb] : subs_)
      cb (gst_sample_get_buffer (sample), gst_sample_get_caps (sample));
  }

private:
  GstElement *encoder_;
  std::mutex lock_;
  std::map<guint64, Callback> subs_;
  guint64 next_ = 0;
};

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc < 7) {
    fprintf (stderr, "usage: whepserve ADDRESS PORT PATH WIDTH HEIGHT FPS [USER PASSWORD]\n");
    return 2;
  }
  g_autofree gchar *desc = g_strdup_printf (
      "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=%s,height=%s,framerate=%s/1 ! "
      "x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max=300 ! "
      "video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au ! "
      "appsink name=out sync=false emit-signals=false max-buffers=2 drop=true",
      argv[4], argv[5], argv[6]);
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch (desc, &err);
  if (!pipeline) {
    fprintf (stderr, "%s\n", err->message);
    return 1;
  }
  GstElement *enc = gst_bin_get_by_name (GST_BIN (pipeline), "enc");
  GstElement *out = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  TestFeed feed (enc);
  GstAppSinkCallbacks cbs = {};
  cbs.new_sample = [] (GstAppSink *sink, gpointer data) {
    GstSample *sample = gst_app_sink_pull_sample (sink);
    if (sample) {
      static_cast<TestFeed *> (data)->deliver (sample);
      gst_sample_unref (sample);
    }
    return GST_FLOW_OK;
  };
  gst_app_sink_set_callbacks (GST_APP_SINK (out), &cbs, &feed, nullptr);

  cr::ServerOptions options;
  if (argc >= 9) {
    options.viewer_user = argv[7];
    options.viewer_password = argv[8];
  }
  auto server = cr::Server::acquire (argv[1], atoi (argv[2]), &err, &options);
  if (!server) {
    fprintf (stderr, "%s\n", err->message);
    return 1;
  }
  cr::WhepSettings settings;
  settings.path = argv[3];
  settings.max_sessions = 4;
  auto endpoint = cr::WhepEndpoint::create (server, settings, feed, &err);
  if (!endpoint) {
    fprintf (stderr, "%s\n", err->message);
    return 1;
  }
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  printf ("listening %u\n", server->port ());
  fflush (stdout);
  char line[256];
  while (fgets (line, sizeof line, stdin)) {
  }
  endpoint.reset ();
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (enc);
  gst_object_unref (out);
  gst_object_unref (pipeline);
  return 0;
}
