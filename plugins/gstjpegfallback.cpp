/* STUB: replaced by the real element. */
#include "gstcamrelayelements.h"

struct CrJpegFallback { GstBin parent; };
struct CrJpegFallbackClass { GstBinClass parent_class; };
G_DEFINE_TYPE (CrJpegFallback, cr_jpegfallback, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (jpegfallback, "jpegfallback", GST_RANK_NONE, cr_jpegfallback_get_type ());
static void cr_jpegfallback_class_init (CrJpegFallbackClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "stub", "Generic", "stub", "camrelay");
}
static void cr_jpegfallback_init (CrJpegFallback *) {}
