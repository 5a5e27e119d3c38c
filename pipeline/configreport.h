/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: how a configuration error is worded.
 *
 * Every check of the configuration stops at its first problem and words it as
 * "ORIGIN: [SECTION] KEY: TEXT", so that the user learns the file, the section and the key. The
 * e2e-cli suite holds these messages word by word. A message may quote what the file says (a bad
 * URL, a pipeline GStreamer refused) and ends up in the log and in the open /status after a
 * refused reload: the credentials in it are masked. */
#pragma once

#include "crredact.h"
#include "relayconfig.h"

#include <string>

namespace camrelay {

class Reporter
{
public:
  Reporter (const Config & config, std::string & out) : origin_ (config.origin ()), out_ (out) {}

  /* Always returns false, so that a check can end with "return report.fail (...)". */
  bool fail (const std::string & section, const std::string & key, const std::string & text)
  {
    out_ = origin_ + ": ";
    if (!section.empty ())
      out_ += "[" + section + "] ";
    if (!key.empty ())
      out_ += key + ": ";
    out_ += cr::redact_text (text);
    return false;
  }

private:
  std::string origin_;
  std::string & out_;
};

}  // namespace camrelay
