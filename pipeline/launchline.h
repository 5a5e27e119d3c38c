/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* camrelay program: pipeline descriptions as gst-launch-1.0 tokens.
 *
 * A camera's pipeline is kept as a list of tokens in gst-launch syntax ("wsjpegsrc",
 * "paths=/ws/front", "!", ...). The program joins them with spaces and hands the result to
 * gst_parse_launch(); --print-pipeline prints the same tokens shell-quoted after "gst-launch-1.0".
 * gst-launch-1.0 joins its arguments back with spaces (escaping only spaces outside quotes), so
 * both parse the very same description. */
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace camrelay {

/* Splits a gst-launch description into tokens at unquoted whitespace. Double and single quotes
 * and backslash escapes are kept as written; "name = value" becomes one token "name=value".
 * Returns false with @error set for an unterminated quote. */
bool tokenize_description (const std::string & description, std::vector<std::string> & tokens,
    std::string & error);

/* A property value as one gst-launch token part: unchanged when it is plain, else in double
 * quotes with backslash escapes. */
std::string gst_quote (const std::string & value);

/* The inverse of gst_quote() for a value as written in a description (quotes optional). */
std::string gst_unquote (const std::string & value);

/* A token as one shell word: unchanged when it is plain, else single-quoted. */
std::string shell_quote (const std::string & token);

/* "name=value" -> true, @name, @value (still quoted as written). */
bool split_property (const std::string & token, std::string & name, std::string & value);

/* True for a token that names an element factory (not "!", not a property, not caps, not a
 * reference to a named element or pad). */
bool is_element_token (const std::string & token);

struct LaunchLine
{
  std::vector<std::string> tokens;
  /* Set when the camrelay plugin is not where gst-launch-1.0 looks by default. */
  std::string plugin_path;

  /* What gst_parse_launch() gets. */
  std::string description () const;
  /* One shell command line that runs the same pipeline. */
  std::string command () const;
};

}  // namespace camrelay
