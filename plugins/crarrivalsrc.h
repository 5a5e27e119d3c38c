/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the output side of a live source bin whose frames come from a thread of its own
 * (wsjpegsrc: the server thread; pulljpegsrc: its camera's streaming threads).
 *
 * Inside the bin, an appsrc holds a small queue that drops its oldest frame and never blocks:
 * a busy pipeline never backs up the camera, what does get through is the newest picture, and
 * the thread that pushes (for wsjpegsrc, shared by every camera and viewer on the port) never
 * waits. The bin exposes it as its "src" pad, so that none of appsrc's knobs reach users.
 *
 * Each frame is stamped with the running time of its arrival on the bin's pipeline clock: what
 * the fallback's timeout is measured in, and what recordings keep as the frame's time. */
#pragma once

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>

namespace cr {

class ArrivalSrc
{
public:
  /* In the bin's instance init: adds the appsrc (image/jpeg, @max_buffers deep) to @bin and its
   * src pad as the bin's "src" ghost pad, made from the class's "src" pad template. */
  void build (GstBin *bin, guint max_buffers);

  /* Any thread. Takes @buffer and returns it writable, with PTS = the running time of now (none
   * while the bin has no clock), no DTS and no duration. */
  GstBuffer *stamp (GstBuffer *buffer) const;
  /* Any thread. The queue holds as many frames as it may: the next push drops the oldest. */
  bool full () const;
  /* Any thread. Takes @buffer and queues it. */
  void push (GstBuffer *buffer) const;
  /* The appsrc itself, for an owner that starts and stops it (wsjpegsrc's stop-when-idle). */
  GstAppSrc *appsrc () const { return appsrc_; }

private:
  GstElement *bin_ = nullptr; /* the owner; the appsrc is its child */
  GstAppSrc *appsrc_ = nullptr;
};

}  // namespace cr
