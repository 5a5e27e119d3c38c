/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: the TLS trust of one pulled camera (see crtlstrust.h). */
#include "crtlstrust.h"

#include <mutex>

struct _CrTlsTrust
{
  GTlsDatabase parent;
  /* Set once in cr_tls_trust_new(), read-only after. */
  GTlsDatabase *anchors; /* the CAs a chain is checked against; nullptr: pinned only */
  GList *pinned;         /* of GTlsCertificate */
  /* Written by the TLS threads that verify, read by the element. */
  std::mutex *lock;
  std::string *refusal;
};

G_DEFINE_TYPE (CrTlsTrust, cr_tls_trust, G_TYPE_TLS_DATABASE);

namespace {

std::string
describe (GTlsCertificateFlags flags)
{
  std::string out;
  auto add = [&] (GTlsCertificateFlags f, const char *what) {
    if (flags & f)
      out += (out.empty () ? "" : ", ") + std::string (what);
  };
  add (G_TLS_CERTIFICATE_UNKNOWN_CA, "signed by an unknown CA");
  add (G_TLS_CERTIFICATE_BAD_IDENTITY, "issued for another host name");
  add (G_TLS_CERTIFICATE_NOT_ACTIVATED, "not valid yet");
  add (G_TLS_CERTIFICATE_EXPIRED, "expired");
  add (G_TLS_CERTIFICATE_REVOKED, "revoked");
  add (G_TLS_CERTIFICATE_INSECURE, "insecure");
  if (out.empty ())
    out = "invalid";
  return out;
}

GTlsCertificateFlags
verify_chain (GTlsDatabase *database, GTlsCertificate *chain, const gchar *purpose,
    GSocketConnectable *identity, GTlsInteraction *interaction, GTlsDatabaseVerifyFlags flags,
    GCancellable *cancellable, GError **error)
{
  CrTlsTrust *self = CR_TLS_TRUST (database);
  /* A pinned certificate is trusted as it is: a camera's self-signed certificate names whatever
   * its firmware chose, and often has long expired. */
  for (GList *l = self->pinned; l; l = l->next) {
    if (g_tls_certificate_is_same (chain, G_TLS_CERTIFICATE (l->data)))
      return static_cast<GTlsCertificateFlags> (0);
  }
  GTlsCertificateFlags result = G_TLS_CERTIFICATE_UNKNOWN_CA;
  if (self->anchors)
    result = g_tls_database_verify_chain (self->anchors, chain, purpose, identity, interaction,
        flags, cancellable, error);
  if (result != 0) {
    std::string why = "the camera's certificate is not trusted (" + describe (result) + ")";
    why += self->pinned && !self->anchors
        ? ": it is not the pinned one (tls-pinned-certificate)"
        : "; give its CA as tls-ca, or pin it with tls-pinned-certificate";
    std::lock_guard<std::mutex> guard (*self->lock);
    *self->refusal = why;
  }
  return result;
}

/* Client connections never look anything up; GTlsDatabase requires the functions. */
GTlsCertificate *
lookup_issuer (GTlsDatabase *database, GTlsCertificate *certificate, GTlsInteraction *interaction,
    GTlsDatabaseLookupFlags flags, GCancellable *cancellable, GError **error)
{
  CrTlsTrust *self = CR_TLS_TRUST (database);
  if (!self->anchors)
    return nullptr;
  return g_tls_database_lookup_certificate_issuer (self->anchors, certificate, interaction, flags,
      cancellable, error);
}

GList *
lookup_issued_by (GTlsDatabase *, GByteArray *, GTlsInteraction *, GTlsDatabaseLookupFlags,
    GCancellable *, GError **)
{
  return nullptr;
}

gchar *
create_handle (GTlsDatabase *, GTlsCertificate *)
{
  return nullptr;
}

GTlsCertificate *
lookup_for_handle (GTlsDatabase *, const gchar *, GTlsInteraction *, GTlsDatabaseLookupFlags,
    GCancellable *, GError **)
{
  return nullptr;
}

}  // namespace

static void
cr_tls_trust_finalize (GObject *object)
{
  CrTlsTrust *self = CR_TLS_TRUST (object);
  g_clear_object (&self->anchors);
  g_list_free_full (self->pinned, g_object_unref);
  delete self->lock;
  delete self->refusal;
  G_OBJECT_CLASS (cr_tls_trust_parent_class)->finalize (object);
}

static void
cr_tls_trust_class_init (CrTlsTrustClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cr_tls_trust_finalize;
  GTlsDatabaseClass *db = G_TLS_DATABASE_CLASS (klass);
  db->verify_chain = verify_chain;
  db->lookup_certificate_issuer = lookup_issuer;
  db->lookup_certificates_issued_by = lookup_issued_by;
  db->create_certificate_handle = create_handle;
  db->lookup_certificate_for_handle = lookup_for_handle;
}

static void
cr_tls_trust_init (CrTlsTrust *self)
{
  self->lock = new std::mutex ();
  self->refusal = new std::string ();
}

CrTlsTrust *
cr_tls_trust_new (const std::string & ca_file, const std::string & pinned_file, GError **error)
{
  g_autoptr (CrTlsTrust) self = CR_TLS_TRUST (g_object_new (CR_TYPE_TLS_TRUST, nullptr));
  if (!pinned_file.empty ()) {
    self->pinned = g_tls_certificate_list_new_from_file (pinned_file.c_str (), error);
    if (!self->pinned) {
      if (error && !*error)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s holds no PEM certificate",
            pinned_file.c_str ());
      return nullptr;
    }
  }
  if (!ca_file.empty ()) {
    /* Checked first: g_tls_file_database_new() accepts a file without any certificate. */
    GList *cas = g_tls_certificate_list_new_from_file (ca_file.c_str (), error);
    if (!cas) {
      if (error && !*error)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s holds no PEM certificate",
            ca_file.c_str ());
      return nullptr;
    }
    g_list_free_full (cas, g_object_unref);
    self->anchors = g_tls_file_database_new (ca_file.c_str (), error);
    if (!self->anchors)
      return nullptr;
  } else if (pinned_file.empty ()) {
    self->anchors = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  }
  return static_cast<CrTlsTrust *> (g_steal_pointer (&self));
}

std::string
cr_tls_trust_refusal (CrTlsTrust *self)
{
  std::lock_guard<std::mutex> guard (*self->lock);
  return *self->refusal;
}
