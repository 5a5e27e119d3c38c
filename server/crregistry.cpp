/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay server: the process-wide registry, one server per (address, requested port), shared by
 * every element and the program; its acquirers must agree on the server's settings. */
#define G_LOG_DOMAIN "camrelay-server"
#include "crregistry.h"

#include "crauth.h"
#include "crserverimpl.h"

#include <condition_variable>
#include <map>
#include <mutex>

namespace cr {

namespace {

struct RegistryEntry
{
  std::weak_ptr<ServerImpl> server;
  /* Identify the entry while the server is dying, when @server has expired. */
  const ServerImpl *raw;
  GThread *thread;
};

std::mutex registry_mutex;
/* Signalled whenever a dying server has let go of its socket. */
std::condition_variable registry_cond;
std::map<std::pair<std::string, guint>, RegistryEntry> registry;

/* An absolute path, so that "cert.pem" and "/etc/camrelay/cert.pem" given from there agree. */
std::string
canonical_file (const std::string & path)
{
  if (path.empty ())
    return path;
  g_autofree gchar *canonical = g_canonicalize_filename (path.c_str (), nullptr);
  return canonical;
}

/* The settings that make a server what it is must be the same for everybody sharing it. */
bool
options_agree (const ServerImpl & server, const ServerOptions & running,
    const ServerOptions & wanted, GError **error)
{
  const char *differs = nullptr;
  std::string detail;
  auto quoted = [] (const std::string & a, const std::string & b) {
    return " (\"" + a + "\", asked for \"" + b + "\")";
  };
  if (canonical_file (running.tls_certificate) != canonical_file (wanted.tls_certificate)) {
    differs = "tls-certificate";
    detail = quoted (running.tls_certificate, wanted.tls_certificate);
  } else if (canonical_file (running.tls_key) != canonical_file (wanted.tls_key)) {
    differs = "tls-key";
    detail = quoted (running.tls_key, wanted.tls_key);
  } else if (running.viewer_user != wanted.viewer_user) {
    differs = "viewer-user";
    detail = quoted (running.viewer_user, wanted.viewer_user);
  } else if (!secrets_equal (running.viewer_password, wanted.viewer_password)) {
    /* Never shown. */
    differs = "viewer-password";
  } else if (running.request_timeout_ms != wanted.request_timeout_ms) {
    differs = "request timeout";
    detail = " (" + std::to_string (running.request_timeout_ms) + " ms, asked for " +
        std::to_string (wanted.request_timeout_ms) + " ms)";
  }
  if (!differs)
    return true;
  const std::string & address = server.address ();
  bool v6 = address.find (':') != std::string::npos;
  g_set_error (error, CR_SERVER_ERROR, SERVER_ERROR_OPTIONS_DIFFER,
      "the server on %s%s%s:%u already runs with a different %s%s; everything that listens on "
      "one address and port must use the same server settings",
      v6 ? "[" : "", address.c_str (), v6 ? "]" : "", server.port (), differs, detail.c_str ());
  return false;
}

}  // namespace

std::shared_ptr<Server>
Server::acquire (const std::string & address, guint port, GError **error,
    const ServerOptions *options)
{
  std::unique_lock<std::mutex> lock (registry_mutex);
  auto key = std::make_pair (address, port);
  for (;;) {
    auto it = registry.find (key);
    if (it == registry.end ())
      break;
    if (auto existing = it->second.server.lock ()) {
      lock.unlock ();
      if (!options)
        return existing;
      if (!options_agree (*existing, existing->options (), *options, nullptr)) {
        /* Its last user may have gone a moment ago, leaving only route removals it has not
         * applied yet to hold it (routes are removed without waiting): apply them, and ask again
         * once it has gone. */
        existing->invoke_sync ([] {});
        std::weak_ptr<ServerImpl> weak = existing;
        existing.reset ();
        if (weak.expired ()) {
          lock.lock ();
          continue;
        }
        existing = weak.lock ();
        if (!existing) {
          lock.lock ();
          continue;
        }
      }
      if (!options_agree (*existing, existing->options (), *options, error))
        return nullptr;
      if (!options->open_on_loopback.empty ())
        existing->open_on_loopback (options->open_on_loopback);
      return existing;
    }
    /* Its last reference is gone but its socket may still be open: binding now could fail with
     * "port in use". Wait for it to close, unless this is that server's own thread, which is
     * unwinding towards its own teardown. */
    if (it->second.thread == g_thread_self ())
      break;
    registry_cond.wait (lock);
  }

  ServerOptions opts = options ? *options : ServerOptions ();
  std::shared_ptr<ServerImpl> server (new ServerImpl (address, port, opts), ServerImpl::release);
  if (!server->start (error))
    return nullptr;
  registry[key] = RegistryEntry{ server, server.get (), server->thread () };
  return server;
}

void
registry_forget (const ServerImpl & server)
{
  std::lock_guard<std::mutex> lock (registry_mutex);
  auto it = registry.find (std::make_pair (server.address (), server.requested_port ()));
  if (it != registry.end () && it->second.raw == &server)
    registry.erase (it);
  registry_cond.notify_all ();
}

}  // namespace cr
