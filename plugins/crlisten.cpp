#include "crlisten.h"

GST_DEBUG_CATEGORY_STATIC (cr_listen_debug);
#define GST_CAT_DEFAULT cr_listen_debug

namespace cr {

void
listen_install_properties (GObjectClass * klass)
{
  auto ready = static_cast<GParamFlags> (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  auto readonly = static_cast<GParamFlags> (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  ListenSettings defaults;

  g_object_class_install_property (klass, LISTEN_PROP_ADDRESS,
      g_param_spec_string ("address", "Address",
          "IP address to listen on: 0.0.0.0 for every IPv4 interface, :: for IPv4 and IPv6, "
          "127.0.0.1 for this machine only", defaults.address.c_str (), ready));
  g_object_class_install_property (klass, LISTEN_PROP_PORT,
      g_param_spec_uint ("port", "Port",
          "TCP port shared with every camrelay element on the same address; 0 = any free port",
          0, 65535, defaults.port, ready));
  g_object_class_install_property (klass, LISTEN_PROP_BOUND_PORT,
      g_param_spec_uint ("bound-port", "Bound port",
          "The port actually listened on (useful with port=0); 0 when not listening",
          0, 65535, 0, readonly));

  if (!cr_listen_debug)
    GST_DEBUG_CATEGORY_INIT (cr_listen_debug, "crlisten", 0, "camrelay listening sockets");
}

bool
listen_set_property (ListenSettings & settings, guint prop_id, const GValue * value)
{
  switch (prop_id) {
    case LISTEN_PROP_ADDRESS:{
      const gchar *address = g_value_get_string (value);
      settings.address = address ? address : ListenSettings ().address;
      return true;
    }
    case LISTEN_PROP_PORT:
      settings.port = g_value_get_uint (value);
      return true;
    default:
      return false;
  }
}

bool
listen_get_property (const ListenSettings & settings, const Server * server, guint prop_id,
    GValue * value)
{
  switch (prop_id) {
    case LISTEN_PROP_ADDRESS:
      g_value_set_string (value, settings.address.c_str ());
      return true;
    case LISTEN_PROP_PORT:
      g_value_set_uint (value, settings.port);
      return true;
    case LISTEN_PROP_BOUND_PORT:
      g_value_set_uint (value, server ? server->port () : 0);
      return true;
    default:
      return false;
  }
}

std::shared_ptr<Server>
listen_acquire (GstElement * element, const ListenSettings & settings, const char *purpose)
{
  g_autoptr (GError) error = nullptr;
  auto server = Server::acquire (settings.address, settings.port, &error);
  if (!server) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ_WRITE,
        ("Could not listen for %s on %s port %u.", purpose, settings.address.c_str (),
            settings.port), ("%s", error->message));
  }
  return server;
}

}  // namespace cr
