/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: rewriting a camera's pipeline= description token by token (see customline.h);
 * the rest of what the user wrote is kept as written. */
#include "customline.h"

#include "elementfields.h"
#include "pipelinegen.h"
#include "placeholderfile.h"

namespace camrelay {

bool
is_network_element (const std::string & factory)
{
  return factory == elements::WSJPEGSRC || factory == elements::MJPEGHTTPSINK;
}

namespace {

/* Element properties that are settings of the shared server, which [server] keys set. */
bool
is_server_setting (const std::string & name)
{
  for (const char *setting : { "tls-certificate", "tls-key", "viewer-user", "viewer-password",
           "open-on-loopback", "request-timeout" }) {
    if (name == setting)
      return true;
  }
  return false;
}

}  // namespace

bool
rewrite_custom_line (const Config & config, CameraConfig & c, Reporter & report)
{
  std::string section = c.section ();
  std::vector<std::string> in;
  std::string why;
  if (!tokenize_description (c.pipeline, in, why))
    return report.fail (section, "pipeline", why);
  if (in.empty ())
    return report.fail (section, "pipeline", "is empty");

  std::vector<std::string> & out = c.line.tokens;
  out.clear ();
  for (gsize i = 0; i < in.size ();) {
    std::string factory = in[i];
    out.push_back (in[i++]);
    bool element = is_element_token (factory) &&
        (is_network_element (factory) || factory == elements::JPEGFALLBACK);
    if (!element)
      continue;

    bool have_placeholder = false;
    std::string name, value;
    for (; i < in.size () && split_property (in[i], name, value); i++) {
      if (is_network_element (factory) && (name == "address" || name == "port"))
        return report.fail (section, "pipeline",
            "leave " + name + "= out of " + factory +
                ": every camera shares the [server] address and port");
      if (is_network_element (factory) && is_server_setting (name))
        return report.fail (section, "pipeline",
            "leave " + name + "= out of " + factory +
                ": the [server] section sets it for every camera");
      if (factory == elements::JPEGFALLBACK && name == "placeholder") {
        if (!find_placeholder (config, gst_unquote (value), c.placeholder_file, why))
          return report.fail (section, "pipeline", "jpegfallback placeholder: " + why);
        out.push_back ("placeholder=" + gst_quote (c.placeholder_file));
        have_placeholder = true;
        continue;
      }
      out.push_back (in[i]);
    }
    if (is_network_element (factory)) {
      /* Emitter::element() would add "!" and the name again; only its property logic is wanted. */
      std::vector<std::string> props;
      Emitter pe (props, section, report);
      if (!pe.element (factory.c_str ()) || !pe.listen_props (config.server))
        return false;
      out.insert (out.end (), props.begin () + 1, props.end ());
    } else if (!have_placeholder) {
      if (!find_placeholder (config, "placeholder.jpg", c.placeholder_file, why))
        return report.fail (section, "pipeline", "jpegfallback placeholder: " + why);
      out.push_back ("placeholder=" + gst_quote (c.placeholder_file));
    }
  }
  return true;
}

}  // namespace camrelay
