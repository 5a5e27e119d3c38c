/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay: whether an element's pipeline and its sinks have settled in PLAYING. */
#include "crpipelinesettled.h"

namespace cr {

namespace {

bool
settled_playing (GstElement *e)
{
  GST_OBJECT_LOCK (e);
  bool settled =
      GST_STATE (e) == GST_STATE_PLAYING && GST_STATE_PENDING (e) == GST_STATE_VOID_PENDING;
  GST_OBJECT_UNLOCK (e);
  return settled;
}

}  // namespace

bool
pipeline_settled (GstElement *element)
{
  GstObject *top = GST_OBJECT (gst_object_ref (element));
  while (GstObject *parent = gst_object_get_parent (top)) {
    gst_object_unref (top);
    top = parent;
  }
  bool settled = settled_playing (GST_ELEMENT (top));
  if (settled && GST_IS_BIN (top)) {
    GstIterator *it = gst_bin_iterate_sinks (GST_BIN (top));
    GValue item = G_VALUE_INIT;
    while (settled && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      settled = settled_playing (GST_ELEMENT (g_value_get_object (&item)));
      g_value_reset (&item);
    }
    g_value_unset (&item);
    gst_iterator_free (it);
  }
  gst_object_unref (top);
  return settled;
}

}  // namespace cr
