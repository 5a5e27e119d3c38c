/* STUB: replaced by the real element. */
#include "gstcamrelayelements.h"

struct CrMjpegHttpSink { GstBin parent; };
struct CrMjpegHttpSinkClass { GstBinClass parent_class; };
G_DEFINE_TYPE (CrMjpegHttpSink, cr_mjpeghttpsink, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (mjpeghttpsink, "mjpeghttpsink", GST_RANK_NONE, cr_mjpeghttpsink_get_type ());
static void cr_mjpeghttpsink_class_init (CrMjpegHttpSinkClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "stub", "Generic", "stub", "camrelay");
}
static void cr_mjpeghttpsink_init (CrMjpegHttpSink *) {}
