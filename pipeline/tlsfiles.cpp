/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: loading the TLS files the way the server will, so that a bad certificate is a
 * config error (exit 2) rather than a server that cannot start. */
#include "tlsfiles.h"

#include <gio/gio.h>

#include <utility>

namespace camrelay {

bool
check_tls (const Config & config, Reporter & report)
{
  const ServerConfig & s = config.server;
  if (s.tls_certificate.empty ())
    return true;
  for (auto [key, file] : { std::make_pair ("tls-certificate", &s.tls_certificate),
           std::make_pair ("tls-key", &s.tls_key) }) {
    if (!g_file_test (file->c_str (), G_FILE_TEST_IS_REGULAR))
      return report.fail ("server", key, "cannot find " + *file);
  }
  g_autoptr (GError) error = nullptr;
  g_autoptr (GTlsCertificate) cert =
      g_tls_certificate_new_from_files (s.tls_certificate.c_str (), s.tls_key.c_str (), &error);
  if (!cert)
    return report.fail ("server", "tls-certificate", error->message);
  return true;
}

}  // namespace camrelay
