/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

G_BEGIN_DECLS

struct _JupiterJobOptions
{
  gatomicrefcount  ref_count;
  JupiterJobFlags  flags;
  char            *name;
  const char      *plugin_id;   /* g_intern_string(), nullable */
  const char      *entry_name;  /* g_intern_string(), nullable */
  JsonNode        *args;        /* private copy, sealed, nullable */
  JsonNode        *metadata;    /* private copy (object), sealed, nullable; never empty */
  GTimeSpan        timeout;
};

G_END_DECLS
