/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An epoll set dispatched from a GMainContext.
 *
 * GMainContext polls every source's fds on each iteration; with a thousand viewers that is a
 * thousand pollfds per wake-up. One epoll fd in the context instead keeps each iteration
 * proportional to the connections that actually have something to do.
 */
#pragma once

#include <glib.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace cr {

class Poller
{
public:
  class Handler
  {
  public:
    virtual ~Handler () = default;
    /* EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP / EPOLLRDHUP bits. */
    virtual void on_events (uint32_t events) = 0;

  private:
    friend class Poller;
    bool retired_ = false;
  };

  /* Returns nullptr with @error set if the kernel refuses an epoll set (e.g. out of descriptors).
   */
  static std::unique_ptr<Poller> create (GMainContext *context, GError **error);
  ~Poller ();
  Poller (const Poller &) = delete;
  Poller & operator= (const Poller &) = delete;

  void add (int fd, uint32_t events, Handler *handler);
  void modify (int fd, uint32_t events, Handler *handler);
  void remove (int fd);

  /* Deletes @handler soon, from the poller's own dispatch, once no event for it can be pending.
   * Handlers are never deleted directly: callers are usually inside one of their methods. */
  void retire (Handler *handler);

  /* Calls @handler's on_events (EPOLLIN) again on the next dispatch, after the events epoll
   * reports then, whether or not its socket is readable: for input a TLS library already holds
   * (decrypted, so the socket is empty) when a reader stopped at its budget. */
  void read_again (Handler *handler);

private:
  Poller (GMainContext *context, int epfd);
  struct Source;
  static gboolean dispatch (GSource *source, GSourceFunc, gpointer);
  void control (int op, const char *name, int fd, uint32_t events, Handler *handler);
  void run_events ();
  void reap ();

  int epfd_ = -1;
  GSource *source_ = nullptr;
  std::vector<Handler *> retired_;
  std::vector<Handler *> read_again_;
};

}  // namespace cr
