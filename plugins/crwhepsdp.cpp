/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay WHEP: reading offers and mending answers (see crwhepsdp.h). */
#include "crwhepsdp.h"

#include <cstdlib>
#include <cstring>

namespace cr {

namespace {

/* The value of @key in an fmtp parameter list ("a=1;b=2"), or "". */
std::string
fmtp_value (const std::string & params, const char *key)
{
  g_auto (GStrv) parts = g_strsplit (params.c_str (), ";", -1);
  for (gchar **p = parts; *p; p++) {
    g_strstrip (*p);
    const char *eq = strchr (*p, '=');
    if (eq && g_ascii_strncasecmp (*p, key, eq - *p) == 0 && strlen (key) == size_t (eq - *p))
      return eq + 1;
  }
  return "";
}

/* Lower is better; -1 = not usable. */
int
rank_profile (const std::string & profile_level_id)
{
  g_autofree gchar *lower = g_ascii_strdown (profile_level_id.c_str (), -1);
  std::string p = lower;
  if (p.size () != 6)
    return p.empty () ? 1 : 4; /* none given means baseline (RFC 6184) */
  if (p.compare (0, 4, "42e0") == 0)
    return 0;
  if (p.compare (0, 2, "42") == 0)
    return 1;
  if (p.compare (0, 2, "4d") == 0)
    return 2;
  return 3;
}

}  // namespace

bool
whep_pick_h264 (const GstSDPMessage *offer, H264Choice *choice, std::string *why)
{
  const GstSDPMedia *video = nullptr;
  for (guint i = 0; i < gst_sdp_message_medias_len (offer); i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (offer, i);
    if (g_strcmp0 (gst_sdp_media_get_media (m), "video") == 0) {
      video = m;
      break;
    }
  }
  if (!video) {
    *why = "the offer has no video m-line";
    return false;
  }
  if (gst_sdp_media_get_attribute_val (video, "sendonly")) {
    *why = "the offer's video is sendonly: a WHEP viewer receives (recvonly or sendrecv)";
    return false;
  }
  int best_rank = 100;
  for (guint i = 0; i < gst_sdp_media_attributes_len (video); i++) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (video, i);
    if (g_strcmp0 (a->key, "rtpmap") != 0 || !a->value)
      continue;
    char *end = nullptr;
    guint pt = strtoul (a->value, &end, 10);
    while (end && *end == ' ')
      end++;
    if (end == a->value || g_ascii_strncasecmp (end, "H264/90000", 10) != 0)
      continue;
    std::string params;
    for (guint j = 0; j < gst_sdp_media_attributes_len (video); j++) {
      const GstSDPAttribute *f = gst_sdp_media_get_attribute (video, j);
      if (g_strcmp0 (f->key, "fmtp") == 0 && f->value && strtoul (f->value, &end, 10) == pt &&
          end != f->value)
        params = end;
    }
    if (fmtp_value (params, "packetization-mode") != "1")
      continue;
    std::string profile = fmtp_value (params, "profile-level-id");
    int rank = rank_profile (profile);
    if (rank < best_rank) {
      best_rank = rank;
      choice->pt = pt;
      choice->profile_level_id = profile;
    }
  }
  if (best_rank == 100) {
    *why = "the offer has no H.264 with packetization-mode=1 (camrelay sends H.264 only)";
    return false;
  }
  return true;
}

std::string
whep_announce_candidate (const std::string & candidate, const std::string & announce)
{
  if (announce.empty ())
    return candidate;
  g_auto (GStrv) f = g_strsplit (candidate.c_str (), " ", -1);
  guint n = g_strv_length (f);
  /* foundation component transport priority address port "typ" type ... */
  if (n < 8 || g_strcmp0 (f[6], "typ") != 0 || g_strcmp0 (f[7], "host") != 0)
    return candidate;
  g_free (f[4]);
  f[4] = g_strdup (announce.c_str ());
  g_autofree gchar *joined = g_strjoinv (" ", f);
  return joined;
}

std::string
whep_answer_text (const GstSDPMessage *answer, const std::vector<std::string> & candidates,
    const std::string & announce)
{
  GstSDPMessage *copy = nullptr;
  gst_sdp_message_copy (answer, &copy);
  for (guint i = 0; i < gst_sdp_message_medias_len (copy); i++) {
    GstSDPMedia *m = const_cast<GstSDPMedia *> (gst_sdp_message_get_media (copy, i));
    bool has_candidates = false;
    for (guint j = 0; j < gst_sdp_media_attributes_len (m); j++) {
      const GstSDPAttribute *a = gst_sdp_media_get_attribute (m, j);
      if (g_strcmp0 (a->key, "candidate") != 0 || !a->value)
        continue;
      has_candidates = true;
      std::string mended = whep_announce_candidate (std::string ("candidate:") +
              (g_str_has_prefix (a->value, "candidate:") ? a->value + 10 : a->value),
          announce);
      GstSDPAttribute replacement;
      gst_sdp_attribute_set (&replacement, "candidate", mended.c_str () + 10);
      gst_sdp_media_replace_attribute (m, j, &replacement);
    }
    if (has_candidates)
      continue;
    for (const auto & c : candidates) {
      std::string mended = whep_announce_candidate (c, announce);
      const char *value =
          g_str_has_prefix (mended.c_str (), "candidate:") ? mended.c_str () + 10 : mended.c_str ();
      gst_sdp_media_add_attribute (m, "candidate", value);
    }
  }
  g_autofree gchar *text = gst_sdp_message_as_text (copy);
  gst_sdp_message_free (copy);
  return text;
}

}  // namespace cr
