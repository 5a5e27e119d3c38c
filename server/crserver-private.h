/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the stream's private classes, Part, Viewer and StreamImpl (crstream.cpp).
 * Everything here lives in, and is touched only from, the server thread unless marked otherwise.
 *
 * Threads: a frame is sent to the viewers from the thread that publishes it (the pipeline's
 * streaming thread), straight into each viewer's non-blocking socket, as ustreamer does: a frame
 * then costs no hand-over to the server thread. A viewer's sending state and its stream's list of
 * viewers are therefore guarded by the stream's send_mutex_: the publishing thread takes it for
 * the whole fan-out, the server thread whenever it changes either (a viewer joins, drains, is
 * held, stalls or goes). The server thread may read them without it, being the only one that
 * changes the list. Only the server thread drops a viewer or touches libsoup, the poller's lists
 * and TLS connections; a publishing thread that meets one of those leaves it to the server thread.
 * Lock order: send_mutex_, then mutex_. */
#pragma once

#include "crconnection.h"
#include "crhttp.h"
#include "crserver.h"
#include "crserverimpl.h"

#include <sys/uio.h>

#include <deque>
#include <memory>
#include <mutex>

namespace cr {

struct Part
{
  Part (GBytes *jpeg, const std::string & content_type, const std::string & boundary, guint64 seq,
      gint64 wall_time_us);
  ~Part ();

  GBytes *jpeg;
  gsize size;
  const guint8 *data;
  guint64 seq;
  gint64 published_us; /* monotonic */
  std::string boundary;
  std::string content_type;
  /* "--B\r\nContent-Type: T\r\nContent-Length: N\r\nX-Timestamp: S.UUUUUU\r\n\r\n" (the wall
   * clock of publication), built once per frame for every Content-Length viewer. */
  std::string head_with_length;
  /* "\r\n--B\r\nContent-Type: T\r\n\r\n": ends this part and opens the next one at once, because
   * browsers only show a part once the next part's headers have arrived. */
  std::string advance_trailer;
};
using PartRef = std::shared_ptr<const Part>;

class StreamImpl;

/* What a viewer's request asked for. */
struct ViewerRequest
{
  bool with_length = false;   /* classic parts with Content-Length (see PartLayout) */
  gint64 min_interval_us = 0; /* ?fps=N: at most N parts a second; 0 = every frame */
};

class Viewer : public Connection
{
public:
  Viewer (StreamImpl & stream, GIOStream *io, GSocket *socket, std::string peer,
      const ViewerRequest & request, const std::string & boundary);

  void offer (const PartRef & part); /* a new frame to send when the socket allows */
  /* Any thread, under the stream's send_mutex_: offer() if this viewer can be served off the server
   * thread; false (nothing done) when the server thread must (TLS, a boundary change). */
  bool offer_from_any_thread (const PartRef & part);
  void finish ();              /* closing boundary, then close */
  void drop (const char *why); /* close now */
  /* The stream is going away: finish the part in flight and the closing boundary on our own,
   * within a grace period, then close. */
  void orphan ();
  /* Another stream on the same path carries on with this response (ServerImpl::remove_stream). */
  void adopt (StreamImpl & stream);
  bool finishing () const { return finishing_; }
  ~Viewer () override;
  bool blocked () const { return blocked_since_ != 0; }
  gint64 blocked_since () const { return blocked_since_; }
  const std::string & boundary () const { return boundary_; }

  void on_events (uint32_t events) override;

private:
  void start_part (const PartRef & part);
  bool flush ();
  void discard_input ();
  bool hold_for_link (gsize next_size);
  gint64 hold_wait_us (guint64 excess, guint64 rate);
  void set_send_lowat (guint bytes);
  bool rate_allows (gint64 published_us);
  static gboolean on_hold_over (gpointer self);

  /* The lock the viewer's sending state is under: its stream's, none once orphaned (nobody else
   * can reach it then). */
  std::recursive_mutex *send_lock () const;

  StreamImpl *stream_; /* nullptr once orphaned */
  /* A send failed in a thread that may not drop the viewer: the server thread does (on_events). */
  bool failed_ = false;
  GSource *drain_timer_ = nullptr;
  bool with_length_;
  gint64 min_interval_us_;
  gint64 next_due_us_ = 0; /* ?fps=N: when the next part is due */
  std::string boundary_;
  std::string preamble_; /* advance mode: the first part's headers */
  bool preamble_sent_ = false;

  PartRef cur_;
  struct iovec segs_[3];
  int nsegs_ = 0;
  gsize total_ = 0;
  gsize off_ = 0;
  std::deque<PartRef> queue_;
  /* Thin links: a viewer whose last part did not go out in one send may still have most of it in
   * flight; the next part then waits (newer frames replacing it) until the link has nearly
   * delivered it, so that the viewer gets fresh frames rather than a queue of old ones. */
  int part_writes_ = 0;
  bool part_held_ = false;
  gint64 hold_since_us_ = 0; /* when this part's hold began */
  /* Watched from the start: until its link has looked free FAST_LOOKS times in a row, a new
   * viewer's first parts would otherwise all go into a thin link at once. */
  bool slow_ = true;
  guint64 last_seq_ = 0; /* the newest part offered, so none is offered twice */
  guint fast_looks_ = 0;
  /* FAST_LOOKS looks in a row found the link free or ended their hold quickly: bytes merely
   * unacknowledged no longer hold a part (judge_link). A long hold takes it back. */
  bool link_proven_ = false;
  gint64 min_rtt_us_ = 0;   /* the kernel's least round-trip time at the last look */
  gint64 part_done_us_ = 0; /* when the last part's last byte went into the socket */
  guint64 link_rate_ = 0;   /* bytes/s, the kernel's samples with outliers capped */
  gint64 last_probe_us_ = 0;
  GSource *hold_timer_ = nullptr; /* created on the first hold, re-armed with a ready time */
  guint lowat_ = 0;               /* the socket's TCP_NOTSENT_LOWAT, 0 = the system's */

  bool finishing_ = false;
  std::string tail_;
  gsize tail_off_ = 0;
  gint64 blocked_since_ = 0;
};

/* ---------------------------------------------------------------------------------------------- */

class StreamImpl : public Stream, public std::enable_shared_from_this<StreamImpl>
{
public:
  StreamImpl (std::shared_ptr<ServerImpl> server, const StreamSettings & settings, guint64 id);
  ~StreamImpl () override;

  void publish (GBytes *jpeg, const char *content_type) override;
  void set_boundary (const std::string & boundary) override;
  void finish () override;
  void reopen () override;
  void set_snapshot_wait (guint ms) override;
  GBytes *latest () const override;
  StreamStats stats () const override;

  /* Any thread: on_viewers and on_wanted are not called any more once this returns (it waits for
   * a call in progress). */
  void silence ();

  /* Server thread. */
  void attach ();
  void detach ();
  /* Off its routes, its viewers kept waiting for adopt_viewers(); false (nothing done) if no
   * viewer is left whose response goes on. */
  bool park ();
  /* Takes over @from's viewers (parked), on the same responses. */
  void adopt_viewers (StreamImpl & from);
  void handle_stream (SoupServerMessage *msg, GHashTable *query);
  void handle_snapshot (SoupServerMessage *msg);
  void add_viewer (GIOStream *io, GSocket *socket, const std::string & peer,
      const ViewerRequest & request);
  void viewer_gone (Viewer *viewer);
  void pending_viewer_settled ();
  ServerImpl & server_ref () { return *server_; }
  void viewer_blocked ();
  void count_sent (gsize bytes, bool part_done);
  void count_skipped ();

  const StreamSettings & settings () const { return settings_; }
  guint64 id () const { return id_; }

private:
  static gboolean on_stall_check (gpointer self);
  void fan_out ();
  void answer_snapshot (SoupServerMessage *msg, const PartRef & part);
  void hold_snapshot (SoupServerMessage *msg, guint wait_ms);
  void answer_held_snapshots ();
  void unroute ();
  /* on_viewers and on_wanted, unless silenced. */
  void tell_viewers ();
  void tell_wanted ();

public:
  /* Server thread: sends a frame published since the last fan-out, if any. */
  void fan_out_pending ();

  std::shared_ptr<ServerImpl> server_;
  StreamSettings settings_;
  guint64 id_;

  /* Changed by the server thread under send_mutex_; read by the publishing thread under it. */
  std::vector<Viewer *> viewers_;
  mutable std::recursive_mutex send_mutex_;
  /* Under send_mutex_ (a viewer blocked in the publishing thread arms the stall timer; the
   * publishing thread sends only while attached_); the server thread may read them without. */
  GSource *stall_timer_ = nullptr;
  bool attached_ = false;
  /* Server thread only. */
  guint pending_viewers_ = 0;
  bool parked_ = false;
  /* Snapshots waiting for the next frame (set_snapshot_wait), each with its deadline. */
  struct HeldSnapshot
  {
    SoupServerMessage *msg; /* a reference */
    GSource *deadline;
  };
  std::vector<HeldSnapshot> held_snapshots_;

  /* Recursive: a callback may remove its own stream. */
  std::recursive_mutex callbacks_lock_;
  bool silenced_ = false;

  /* Any thread, under mutex_. */
  mutable std::mutex mutex_;
  PartRef latest_;
  /* Published, not yet fanned out. A burst that arrives while the server thread is busy is kept
   * (up to MAX_PENDING, oldest dropped), so a healthy viewer sees no gap. */
  std::deque<PartRef> pending_;
  static constexpr gsize MAX_PENDING = 4;
  /* How long a snapshot waits for a stream's first frame. */
  static constexpr guint FIRST_FRAME_WAIT_MS = 3000;
  bool finish_pending_ = false;
  /* Snapshots held for the next frame (held_snapshots_.size ()): a frame then goes through the
   * server thread, which answers them. */
  gsize held_count_ = 0;
  /* This stream's id waits in the server's list of streams to look at (fan_out_pending ()). */
  bool marked_ = false;
  bool finished_ = false;
  std::string boundary_ = "ThisRandomString";
  guint snapshot_wait_ms_ = 0;
  guint64 seq_ = 0;
  StreamStats stats_;
};

}  // namespace cr
