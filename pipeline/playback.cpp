/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: playing a recording back at a chosen speed (see playback.h). */
#define G_LOG_DOMAIN "camrelay"
#include "playback.h"

#include <fcntl.h>
#include <unistd.h>

namespace camrelay {

namespace {

const char BOUNDARY[] = "camrelayplayback";
/* With no frame after the last one for this long, the recording is over (the camera stopped). */
const gint64 END_WAIT_US = 10 * G_USEC_PER_SEC;
const guint POLL_MS = 500;

class Player
{
public:
  Player (std::shared_ptr<Catalog> catalog, SoupServerMessage *msg, const PlayRequest & req)
    : catalog_ (std::move (catalog)), msg_ (SOUP_SERVER_MESSAGE (g_object_ref (msg))), req_ (req)
  {}

  ~Player ();
  bool start ();

private:
  gint64 due_us (gint64 rec_us) const;
  bool load_segment (gsize i);
  bool advance (); /* to the next frame; false if none (yet) */
  gint64 frame_us () const;
  void send_current ();
  void next ();
  void schedule (gint64 delay_us);
  void end ();

  static void on_wrote_chunk (SoupServerMessage *, gpointer self);
  static void on_finished (SoupServerMessage *, gpointer self);

  std::shared_ptr<Catalog> catalog_;
  SoupServerMessage *msg_;
  PlayRequest req_;
  std::vector<Segment> segments_;
  gsize seg_ = 0;
  std::shared_ptr<const cr::record::SegmentIndex> index_;
  gsize frame_ = 0;
  int fd_ = -1;
  int chunks_in_flight_ = 0;
  bool early_preamble_sent_ = false;
  bool ending_ = false;
  bool pending_ = false; /* frame_ is chosen but not sent yet */
  gint64 base_rec_us_ = 0, base_mono_us_ = 0, prev_rec_us_ = 0;
  gint64 waiting_since_us_ = 0;
  GSource *timer_ = nullptr;
};

Player::~Player ()
{
  if (timer_) {
    g_source_destroy (timer_);
    g_source_unref (timer_);
  }
  if (fd_ >= 0)
    close (fd_);
  g_signal_handlers_disconnect_by_data (msg_, this);
  g_object_unref (msg_);
}

bool
Player::load_segment (gsize i)
{
  if (i >= segments_.size ())
    return false;
  auto index = catalog_->index (segments_[i]);
  if (!index || index->frames.empty ())
    return false;
  int fd = open (segments_[i].path.c_str (), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  if (fd_ >= 0)
    close (fd_);
  fd_ = fd;
  seg_ = i;
  index_ = std::move (index);
  frame_ = 0;
  return true;
}

gint64
Player::frame_us () const
{
  return segments_[seg_].start_s * G_USEC_PER_SEC +
      static_cast<gint64> (index_->frames[frame_].ts_ms) * 1000;
}

bool
Player::advance ()
{
  if (frame_ + 1 < index_->frames.size ()) {
    frame_++;
    return true;
  }
  /* The segment being written may have grown; then later segments, listed again. */
  auto fresh = catalog_->index (segments_[seg_]);
  if (fresh && fresh->frames.size () > frame_ + 1) {
    index_ = std::move (fresh);
    frame_++;
    return true;
  }
  if (seg_ + 1 >= segments_.size ()) {
    Segment current = segments_[seg_];
    auto later = catalog_->segments (req_.camera, false, current.start_s, G_MAXINT64 / 2);
    segments_.assign (1, current);
    seg_ = 0;
    for (auto & s : later)
      if (s.start_s > current.start_s)
        segments_.push_back (std::move (s));
  }
  for (gsize i = seg_ + 1; i < segments_.size (); i++)
    if (load_segment (i))
      return true;
  return false;
}

void
Player::send_current ()
{
  const cr::record::FrameRef & f = index_->frames[frame_];
  gpointer data = g_malloc (f.size);
  if (pread (fd_, data, f.size, static_cast<off_t> (f.offset)) != static_cast<ssize_t> (f.size)) {
    g_free (data);
    end ();
    return;
  }
  GBytes *jpeg = g_bytes_new_take (data, f.size);
  gint64 us = frame_us ();
  prev_rec_us_ = us;
  SoupMessageBody *body = soup_server_message_get_response_body (msg_);
  std::string head;
  if (req_.with_length) {
    char stamp[48];
    g_snprintf (stamp, sizeof (stamp), "%" G_GINT64_FORMAT ".%06d", us / G_USEC_PER_SEC,
        static_cast<int> (us % G_USEC_PER_SEC));
    head = std::string ("--") + BOUNDARY +
        "\r\nContent-Type: image/jpeg\r\nContent-Length: " + std::to_string (f.size) +
        "\r\nX-Timestamp: " + stamp + "\r\n\r\n";
  } else if (!early_preamble_sent_) {
    head = std::string ("--") + BOUNDARY + "\r\nContent-Type: image/jpeg\r\n\r\n";
    early_preamble_sent_ = true;
  }
  /* Early headers: the next part's header block follows the frame at once (browsers show a part
   * only when it has come). */
  std::string tail = req_.with_length
      ? std::string ("\r\n")
      : std::string ("\r\n--") + BOUNDARY + "\r\nContent-Type: image/jpeg\r\n\r\n";
  if (!head.empty ()) {
    soup_message_body_append (body, SOUP_MEMORY_COPY, head.data (), head.size ());
    chunks_in_flight_++;
  }
  soup_message_body_append_bytes (body, jpeg);
  g_bytes_unref (jpeg);
  soup_message_body_append (body, SOUP_MEMORY_COPY, tail.data (), tail.size ());
  chunks_in_flight_ += 2;
  soup_server_message_unpause (msg_);
}

void
Player::schedule (gint64 delay_us)
{
  if (timer_) {
    g_source_destroy (timer_);
    g_source_unref (timer_);
  }
  timer_ = g_timeout_source_new (static_cast<guint> (MAX (delay_us, 0) / 1000));
  g_source_set_callback (
      timer_,
      [] (gpointer self) -> gboolean {
        auto *p = static_cast<Player *> (self);
        g_source_unref (p->timer_);
        p->timer_ = nullptr;
        p->next ();
        return G_SOURCE_REMOVE;
      },
      this, nullptr);
  g_source_attach (timer_, g_main_context_get_thread_default ());
}

gint64
Player::due_us (gint64 rec_us) const
{
  return base_mono_us_ + static_cast<gint64> ((rec_us - base_rec_us_) / req_.speed);
}

/* Called when the client has taken the last part, or a timer fired: sends the next frame if it
 * is due, else waits for its time (or for the recording to go on). */
void
Player::next ()
{
  if (ending_ || chunks_in_flight_ > 0)
    return;
  gint64 now = g_get_monotonic_time ();
  if (!pending_) {
    if (!advance ()) {
      if (waiting_since_us_ == 0)
        waiting_since_us_ = now;
      if (now - waiting_since_us_ >= END_WAIT_US)
        end ();
      else
        schedule (POLL_MS * 1000);
      return;
    }
    waiting_since_us_ = 0;
    pending_ = true;
    if (frame_us () - prev_rec_us_ > PLAYBACK_GAP_US) {
      /* A gap in the recording: go straight on, and count the pace from here. */
      base_rec_us_ = frame_us ();
      base_mono_us_ = now;
    }
    /* A client slower than the pace gets the newest frame that is due, not a growing lag. */
    while (frame_ + 1 < index_->frames.size ()) {
      gint64 following = segments_[seg_].start_s * G_USEC_PER_SEC +
          static_cast<gint64> (index_->frames[frame_ + 1].ts_ms) * 1000;
      if (following - frame_us () > PLAYBACK_GAP_US || due_us (following) > now)
        break;
      frame_++;
    }
  }
  gint64 due = due_us (frame_us ());
  if (due > now) {
    schedule (due - now);
    return;
  }
  pending_ = false;
  send_current ();
}

void
Player::end ()
{
  if (ending_)
    return;
  ending_ = true;
  std::string close = req_.with_length || !early_preamble_sent_
      ? std::string ("--") + BOUNDARY + "--\r\n"
      : std::string ("\r\n--") + BOUNDARY + "--\r\n";
  SoupMessageBody *body = soup_server_message_get_response_body (msg_);
  soup_message_body_append (body, SOUP_MEMORY_COPY, close.data (), close.size ());
  soup_message_body_complete (body);
  soup_server_message_unpause (msg_);
}

void
Player::on_wrote_chunk (SoupServerMessage *, gpointer self)
{
  auto *p = static_cast<Player *> (self);
  if (--p->chunks_in_flight_ == 0 && !p->ending_ && !p->timer_)
    p->next ();
}

void
Player::on_finished (SoupServerMessage *, gpointer self)
{
  delete static_cast<Player *> (self);
}

bool
Player::start ()
{
  gint64 from_s = req_.from_us / G_USEC_PER_SEC;
  segments_ = catalog_->segments (req_.camera, false, from_s, G_MAXINT64 / 2);
  /* The frame at or just before @from in its segment, else the first one after it. */
  bool found = false;
  for (gsize i = 0; i < segments_.size () && !found; i++) {
    if (segments_[i].last_us () < req_.from_us && i + 1 < segments_.size ())
      continue;
    if (segments_[i].last_us () < req_.from_us)
      break;
    if (!load_segment (i))
      continue;
    frame_ = 0;
    while (frame_ + 1 < index_->frames.size () &&
        segments_[i].start_s * G_USEC_PER_SEC +
                static_cast<gint64> (index_->frames[frame_ + 1].ts_ms) * 1000 <=
            req_.from_us)
      frame_++;
    found = true;
  }
  if (!found)
    return false;

  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg_);
  g_autofree gchar *type = g_strdup_printf ("multipart/x-mixed-replace;boundary=%s", BOUNDARY);
  soup_message_headers_replace (h, "Content-Type", type);
  soup_message_headers_replace (h, "Cache-Control",
      "no-store, no-cache, must-revalidate, max-age=0");
  soup_message_headers_replace (h, "Connection", "close");
  soup_message_headers_replace (h, "X-Accel-Buffering", "no");
  soup_message_headers_set_encoding (h, SOUP_ENCODING_EOF);
  soup_server_message_set_status (msg_, SOUP_STATUS_OK, nullptr);
  if (g_strcmp0 (soup_server_message_get_method (msg_), "HEAD") == 0) {
    delete this;
    return true;
  }
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg_), FALSE);
  g_signal_connect (msg_, "wrote-chunk", G_CALLBACK (on_wrote_chunk), this);
  g_signal_connect (msg_, "finished", G_CALLBACK (on_finished), this);
  base_rec_us_ = frame_us ();
  prev_rec_us_ = base_rec_us_;
  base_mono_us_ = g_get_monotonic_time ();
  send_current ();
  return true;
}

}  // namespace

bool
start_playback (std::shared_ptr<Catalog> catalog, SoupServerMessage *msg, const PlayRequest & req)
{
  auto *p = new Player (std::move (catalog), msg, req);
  if (!p->start ()) {
    delete p;
    return false;
  }
  return true;
}

}  // namespace camrelay
