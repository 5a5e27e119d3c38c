/* STUB: replaced by the real element. */
#include "gstcamrelayelements.h"

struct CrWsJpegSrc { GstBin parent; };
struct CrWsJpegSrcClass { GstBinClass parent_class; };
G_DEFINE_TYPE (CrWsJpegSrc, cr_wsjpegsrc, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (wsjpegsrc, "wsjpegsrc", GST_RANK_NONE, cr_wsjpegsrc_get_type ());
static void cr_wsjpegsrc_class_init (CrWsJpegSrcClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "stub", "Generic", "stub", "camrelay");
}
static void cr_wsjpegsrc_init (CrWsJpegSrc *) {}
