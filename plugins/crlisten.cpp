/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the listening side that wsjpegsrc and mjpeghttpsink share (see crlisten.h): the
 * properties both install, their handling, and acquiring and releasing the shared server. */
#include "crlisten.h"

#include <sstream>

GST_DEBUG_CATEGORY_STATIC (cr_listen_debug);
#define GST_CAT_DEFAULT cr_listen_debug

#define DEFAULT_REQUEST_TIMEOUT (10 * GST_SECOND)

namespace cr {

void
listen_install_properties (GObjectClass *klass)
{
  auto ready = static_cast<GParamFlags> (
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /* Never readable: a readable password ends up in gst-launch -v output, logs and dumps. */
  auto writeonly = static_cast<GParamFlags> (
      G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  ListenSettings defaults;

  g_object_class_install_property (klass, LISTEN_PROP_ADDRESS,
      g_param_spec_string ("address", "Address",
          "IP address to listen on: 0.0.0.0 for every IPv4 interface, :: for IPv4 and IPv6, "
          "127.0.0.1 for this machine only",
          defaults.address.c_str (), ready));
  g_object_class_install_property (klass, LISTEN_PROP_PORT,
      g_param_spec_uint ("port", "Port",
          "TCP port shared with every camrelay element on the same address; 0 = any free port", 0,
          65535, defaults.port, ready));
  g_object_class_install_property (klass, LISTEN_PROP_BOUND_PORT,
      g_param_spec_uint ("bound-port", "Bound Port",
          "The port actually listened on (useful with port=0); 0 when not listening", 0, 65535, 0,
          readonly));
  g_object_class_install_property (klass, LISTEN_PROP_TLS_CERTIFICATE,
      g_param_spec_string ("tls-certificate", "TLS Certificate",
          "PEM file with the server's certificate (and chain); with tls-key set too the port "
          "serves https:// and wss:// only; empty = plain http:// and ws://",
          "", ready));
  g_object_class_install_property (klass, LISTEN_PROP_TLS_KEY,
      g_param_spec_string ("tls-key", "TLS Key",
          "PEM file with the private key of tls-certificate; empty = plain http:// and ws://", "",
          ready));
  g_object_class_install_property (klass, LISTEN_PROP_VIEWER_USER,
      g_param_spec_string ("viewer-user", "Viewer User",
          "User name viewers must give (HTTP Basic) for streams, snapshots and pages on this "
          "port; empty with an empty viewer-password = no credentials needed",
          "", ready));
  g_object_class_install_property (klass, LISTEN_PROP_VIEWER_PASSWORD,
      g_param_spec_string ("viewer-password", "Viewer Password",
          "Password that goes with viewer-user (write-only); empty with an empty viewer-user = "
          "no credentials needed",
          "", writeonly));
  g_object_class_install_property (klass, LISTEN_PROP_OPEN_ON_LOOPBACK,
      g_param_spec_string ("open-on-loopback", "Open On Loopback",
          "Comma-separated paths that clients on this machine may read without the viewer "
          "credentials (e.g. /metrics); empty = none",
          "", ready));
  g_object_class_install_property (klass, LISTEN_PROP_REQUEST_TIMEOUT,
      g_param_spec_uint64 ("request-timeout", "Request Timeout",
          "Time in nanoseconds a client has to send its complete request headers before it is "
          "disconnected (against slowloris); 0 = no limit",
          0, G_MAXUINT64, DEFAULT_REQUEST_TIMEOUT, ready));

  if (!cr_listen_debug)
    GST_DEBUG_CATEGORY_INIT (cr_listen_debug, "crlisten", 0, "camrelay listening sockets");
}

namespace {

std::string
string_value (const GValue *value)
{
  const gchar *s = g_value_get_string (value);
  return s ? s : "";
}

std::string
join_list (const std::vector<std::string> & items)
{
  std::ostringstream out;
  for (gsize i = 0; i < items.size (); i++)
    out << (i ? "," : "") << items[i];
  return out.str ();
}

}  // namespace

std::shared_ptr<Server>
listen_acquire (GstElement *element, const ListenSettings & settings, const char *purpose)
{
  g_autoptr (GError) error = nullptr;
  auto server = Server::acquire (settings.address, settings.port, &error, &settings.options);
  if (!server) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ_WRITE,
        ("Could not listen for %s on %s port %u.", purpose, settings.address.c_str (),
            settings.port),
        ("%s", error->message));
  }
  return server;
}

bool
Listener::set_property (guint prop_id, const GValue *value)
{
  std::lock_guard<std::mutex> guard (lock_);
  ServerOptions & o = settings_.options;
  switch (prop_id) {
    case LISTEN_PROP_ADDRESS: {
      const gchar *address = g_value_get_string (value);
      settings_.address = address ? address : ListenSettings ().address;
      return true;
    }
    case LISTEN_PROP_PORT:
      settings_.port = g_value_get_uint (value);
      return true;
    case LISTEN_PROP_TLS_CERTIFICATE:
      o.tls_certificate = string_value (value);
      return true;
    case LISTEN_PROP_TLS_KEY:
      o.tls_key = string_value (value);
      return true;
    case LISTEN_PROP_VIEWER_USER:
      o.viewer_user = string_value (value);
      return true;
    case LISTEN_PROP_VIEWER_PASSWORD:
      o.viewer_password = string_value (value);
      return true;
    case LISTEN_PROP_OPEN_ON_LOOPBACK:
      o.open_on_loopback = split_list (string_value (value));
      return true;
    case LISTEN_PROP_REQUEST_TIMEOUT: {
      guint64 ns = g_value_get_uint64 (value);
      guint64 ms = MIN (ns / static_cast<guint64> (GST_MSECOND), static_cast<guint64> (G_MAXUINT));
      /* Below a millisecond is still a limit, not "no limit". */
      o.request_timeout_ms = ns > 0 && ms == 0 ? 1 : static_cast<guint> (ms);
      return true;
    }
    default:
      return false;
  }
}

bool
Listener::get_property (guint prop_id, GValue *value) const
{
  std::lock_guard<std::mutex> guard (lock_);
  const ServerOptions & o = settings_.options;
  switch (prop_id) {
    case LISTEN_PROP_ADDRESS:
      g_value_set_string (value, settings_.address.c_str ());
      return true;
    case LISTEN_PROP_PORT:
      g_value_set_uint (value, settings_.port);
      return true;
    case LISTEN_PROP_BOUND_PORT:
      g_value_set_uint (value, server_ ? server_->port () : 0);
      return true;
    case LISTEN_PROP_TLS_CERTIFICATE:
      g_value_set_string (value, o.tls_certificate.c_str ());
      return true;
    case LISTEN_PROP_TLS_KEY:
      g_value_set_string (value, o.tls_key.c_str ());
      return true;
    case LISTEN_PROP_VIEWER_USER:
      g_value_set_string (value, o.viewer_user.c_str ());
      return true;
    case LISTEN_PROP_OPEN_ON_LOOPBACK:
      g_value_set_string (value, join_list (o.open_on_loopback).c_str ());
      return true;
    case LISTEN_PROP_REQUEST_TIMEOUT:
      g_value_set_uint64 (value, o.request_timeout_ms * static_cast<guint64> (GST_MSECOND));
      return true;
    default:
      return false;
  }
}

GstStateChangeReturn
Listener::change_state (GstElement *element, GstStateChange transition,
    GstElementClass *parent_class, const char *purpose, const std::function<bool ()> & start,
    const std::function<void ()> & stop)
{
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!open (element, purpose))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!start ())
        return GST_STATE_CHANGE_FAILURE;
      break;
    default:
      break;
  }

  GstStateChangeReturn ret = parent_class->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      stop ();
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      close ();
      break;
    default:
      break;
  }
  return ret;
}

bool
Listener::open (GstElement *element, const char *purpose)
{
  ListenSettings settings;
  {
    std::lock_guard<std::mutex> guard (lock_);
    settings = settings_;
  }
  auto server = listen_acquire (element, settings, purpose);
  std::lock_guard<std::mutex> guard (lock_);
  server_ = server;
  return server != nullptr;
}

void
Listener::close ()
{
  std::shared_ptr<Server> server;
  {
    std::lock_guard<std::mutex> guard (lock_);
    server = std::move (server_);
  }
  server.reset ();
}

std::shared_ptr<Server>
Listener::server () const
{
  std::lock_guard<std::mutex> guard (lock_);
  return server_;
}

}  // namespace cr
