/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "crpoller.h"

#include <gio/gio.h>

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cr {

struct Poller::Source
{
  GSource base;
  Poller *poller;
};

std::unique_ptr<Poller>
Poller::create (GMainContext *context, GError **error)
{
  int epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create an epoll set: %s",
        g_strerror (saved));
    return nullptr;
  }
  return std::unique_ptr<Poller> (new Poller (context, epfd));
}

Poller::Poller (GMainContext *context, int epfd) : epfd_ (epfd)
{
  static GSourceFuncs funcs = {
    nullptr,
    nullptr,
    Poller::dispatch,
    nullptr,
    nullptr,
    nullptr,
  };
  source_ = g_source_new (&funcs, sizeof (Source));
  reinterpret_cast<Source *> (source_)->poller = this;
  g_source_set_name (source_, "camrelay epoll");
  g_source_add_unix_fd (source_, epfd_, G_IO_IN);
  g_source_attach (source_, context);
}

Poller::~Poller ()
{
  g_source_destroy (source_);
  g_source_unref (source_);
  reap ();
  close (epfd_);
}

void
Poller::control (int op, const char *name, int fd, uint32_t events, Handler *handler)
{
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl (epfd_, op, fd, &ev) < 0)
    g_warning ("epoll_ctl(%s, %d): %s", name, fd, g_strerror (errno));
}

void
Poller::add (int fd, uint32_t events, Handler *handler)
{
  control (EPOLL_CTL_ADD, "ADD", fd, events, handler);
}

void
Poller::modify (int fd, uint32_t events, Handler *handler)
{
  control (EPOLL_CTL_MOD, "MOD", fd, events, handler);
}

void
Poller::remove (int fd)
{
  epoll_ctl (epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

void
Poller::retire (Handler *handler)
{
  if (!handler || handler->retired_)
    return;
  handler->retired_ = true;
  /* Always deferred: the caller is usually deep inside a method of @handler. */
  retired_.push_back (handler);
  g_source_set_ready_time (source_, 0);
}

void
Poller::read_again (Handler *handler)
{
  if (!handler || handler->retired_)
    return;
  read_again_.push_back (handler);
  g_source_set_ready_time (source_, 0);
}

void
Poller::reap ()
{
  std::vector<Handler *> dead;
  dead.swap (retired_);
  for (Handler *h : dead) {
    read_again_.erase (std::remove (read_again_.begin (), read_again_.end (), h),
        read_again_.end ());
    delete h;
  }
}

void
Poller::run_events ()
{
  /* Handlers asked for before this dispatch get one more turn each, after the ready sockets; one
   * that asks again is served on the next dispatch, so other sources get theirs in between. */
  std::vector<Handler *> again;
  again.swap (read_again_);

  struct epoll_event events[128];
  int n = epoll_wait (epfd_, events, G_N_ELEMENTS (events), 0);
  if (n < 0 && errno != EINTR)
    g_warning ("epoll_wait: %s", g_strerror (errno));

  for (int i = 0; i < n; i++) {
    auto *h = static_cast<Handler *> (events[i].data.ptr);
    if (!h->retired_)
      h->on_events (events[i].events);
  }
  for (Handler *h : again) {
    if (!h->retired_)
      h->on_events (EPOLLIN);
  }
  reap ();
}

gboolean
Poller::dispatch (GSource *source, GSourceFunc, gpointer)
{
  g_source_set_ready_time (source, -1);
  reinterpret_cast<Source *> (source)->poller->run_events ();
  return G_SOURCE_CONTINUE;
}

}  // namespace cr
