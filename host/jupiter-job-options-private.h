/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

G_BEGIN_DECLS

struct _JupiterJobOptions
{
  gatomicrefcount  ref_count;
  JupiterJobFlags  flags;
  char            *name;
  GRefString      *plugin_id;   /* interned, nullable */
  GRefString      *entry_name;  /* interned, nullable */
  JsonNode        *args;        /* sealed, nullable */
  JsonObject      *metadata;    /* sealed, nullable; never empty */
  GTimeSpan        timeout;
};

G_END_DECLS
