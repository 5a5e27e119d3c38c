/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Secrets masked in what people read: camera URLs as IP cameras carry credentials, and free text
 * such as pipeline lines and error messages. */
#include "crredact.h"

#include <gtest/gtest.h>

using cr::redact_text;
using cr::redact_url;

TEST (Redact, UserinfoIsRemoved)
{
  EXPECT_EQ (redact_url ("http://admin:s3cret@192.168.1.40:81/stream"),
      "http://192.168.1.40:81/stream");
  EXPECT_EQ (redact_url ("rtsp://viewer@cam/stream1"), "rtsp://cam/stream1");
  /* An '@' in the password: the last one ends the userinfo. */
  EXPECT_EQ (redact_url ("http://a:p@ss@cam/"), "http://cam/");
}

TEST (Redact, CredentialQueryValuesAreMaskedTheRestIsKeptByteForByte)
{
  EXPECT_EQ (redact_url ("http://cam/cgi-bin/snapshot.cgi?user=admin&pwd=p%26ss&res=vga"),
      "http://cam/cgi-bin/snapshot.cgi?user=***&pwd=***&res=vga");
  EXPECT_EQ (redact_url ("https://cam/a%2Fb/img.jpg?token=a%2Bb#frag"),
      "https://cam/a%2Fb/img.jpg?token=***#frag");
  EXPECT_EQ (redact_url ("http://cam/videostream.cgi?loginuse=admin&loginpas=x"),
      "http://cam/videostream.cgi?loginuse=***&loginpas=***");
  EXPECT_EQ (redact_url ("http://cam/x?API_KEY=k1;Password=k2;channel=1"),
      "http://cam/x?API_KEY=***;Password=***;channel=1");
  /* Empty values and names without values stay as they are. */
  EXPECT_EQ (redact_url ("http://cam/x?pwd=&flag"), "http://cam/x?pwd=&flag");
}

TEST (Redact, WhatIsNotAUrlIsUnchanged)
{
  EXPECT_EQ (redact_url ("websocket"), "websocket");
  EXPECT_EQ (redact_url ("v4l2:///dev/video0"), "v4l2:///dev/video0");
  EXPECT_EQ (redact_url (""), "");
}

TEST (Redact, TextMasksUrlsAndSecretSettings)
{
  EXPECT_EQ (redact_text ("pulljpegsrc location=http://u:p@cam/?pwd=x ! jpegvalidate ! "
                          "mjpeghttpsink viewer-user=me viewer-password=hunter2 secret=\"tok en\""),
      "pulljpegsrc location=http://cam/?pwd=*** ! jpegvalidate ! "
      "mjpeghttpsink viewer-user=me viewer-password=*** secret=\"***\"");
  EXPECT_EQ (redact_text ("cannot open 'rtsps://a:b@cam:322/x?token=t': refused"),
      "cannot open 'rtsps://cam:322/x?token=***': refused");
  /* Paths to key files are not secrets; a token of a camera section is. */
  EXPECT_EQ (redact_text ("tls-key=/etc/camrelay/key.pem token=abc, next"),
      "tls-key=/etc/camrelay/key.pem token=***, next");
  EXPECT_EQ (redact_text ("no secrets here: 3 cameras, 5 fps"),
      "no secrets here: 3 cameras, 5 fps");
}
