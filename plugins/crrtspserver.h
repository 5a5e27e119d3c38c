/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: one RTSP server per address and port for the whole process, shared by every
 * h264relaysink that serves on it (as wsjpegsrc and mjpeghttpsink share the HTTP server).
 *
 * A mount `rtsp://HOST:PORT/PATH` serves one h264relaysink's H.264 feed: one shared media per
 * mount (GstRTSPMediaFactory shared=TRUE: appsrc ! rtph264pay), whatever the number of RTSP
 * viewers, subscribed to the feed while the media exists (from the first viewer's DESCRIBE/SETUP
 * until the last one leaves). A viewer that starts playing gets a key frame at once. Viewer
 * credentials are RTSP Basic; TCP (interleaved) and UDP transports.
 *
 * gst-rtsp-server runs in a thread of its own with its own GMainContext: nothing here touches
 * the HTTP server's (libsoup's) objects.
 */
#pragma once

#include <gst/gst.h>

#include <memory>
#include <string>

namespace cr::rtsp {

struct ServerSettings
{
  std::string address = "0.0.0.0";
  guint port = 8554;
  std::string viewer_user;     /* "" = no credentials asked */
  std::string viewer_password; /* never shown */
};

class Server
{
public:
  /* The server for @settings' address and port, started if it is the first; nullptr with
   * @error set if the port cannot be had or a running server has other credentials. */
  static std::shared_ptr<Server> acquire (const ServerSettings & settings, std::string & error);
  virtual ~Server () = default;

  /* Serves @sink's feed at @path ("/NAME"); false with @error if @path is taken. */
  virtual bool mount (const std::string & path, GstElement *sink, std::string & error) = 0;
  /* Stops serving @path: its viewers' sessions end, the feed is let go. */
  virtual void unmount (const std::string & path) = 0;
  /* RTSP viewers playing @path now. */
  virtual guint viewers (const std::string & path) = 0;
  /* The port actually listened on (for port 0 = any). */
  virtual guint bound_port () const = 0;
};

}  // namespace cr::rtsp
