/* STUB: replaced by the real element. */
#include "gstcamrelayelements.h"

struct CrJpegValidate { GstBin parent; };
struct CrJpegValidateClass { GstBinClass parent_class; };
G_DEFINE_TYPE (CrJpegValidate, cr_jpegvalidate, GST_TYPE_BIN);
GST_ELEMENT_REGISTER_DEFINE (jpegvalidate, "jpegvalidate", GST_RANK_NONE, cr_jpegvalidate_get_type ());
static void cr_jpegvalidate_class_init (CrJpegValidateClass * klass)
{
  gst_element_class_set_static_metadata (GST_ELEMENT_CLASS (klass), "stub", "Generic", "stub", "camrelay");
}
static void cr_jpegvalidate_init (CrJpegValidate *) {}
