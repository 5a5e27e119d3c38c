/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the TLS trust of one pulled camera, as a GTlsDatabase that souphttpsrc and rtspsrc
 * take as their tls-database: the system's CAs by default, the CA certificates of a file instead
 * (tls-ca), and/or exactly the certificates of a file whatever their name or dates
 * (tls-pinned-certificate). It remembers why it refused a certificate, which the elements' own
 * errors do not say. */
#pragma once

#include <gio/gio.h>

#include <string>

G_BEGIN_DECLS

#define CR_TYPE_TLS_TRUST (cr_tls_trust_get_type ())
G_DECLARE_FINAL_TYPE (CrTlsTrust, cr_tls_trust, CR, TLS_TRUST, GTlsDatabase)

G_END_DECLS

/* @ca_file and @pinned_file may be empty (not used). nullptr with @error set when a file cannot
 * be read as PEM certificates. */
CrTlsTrust *cr_tls_trust_new (const std::string & ca_file, const std::string & pinned_file,
    GError **error);

/* Why the last certificate presented was refused, as a user can act on it; "" if none was.
 * Any thread. */
std::string cr_tls_trust_refusal (CrTlsTrust *self);
