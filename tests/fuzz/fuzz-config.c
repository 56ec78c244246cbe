/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * libFuzzer target for the configuration reader: every input is loaded as
 * YAML and as JSON with jupiter_config_load_from_data(), against a base
 * directory that does not exist (so no path in the input can name a real
 * file). Whatever comes back is freed, so LeakSanitizer sees every leak.
 *
 * Beyond crashes, leaks and timeouts, it checks the contract: a load
 * returns a configuration or an error, never both or neither; every error
 * is in JUPITER_CONFIG_ERROR, is valid UTF-8 on one line, and (input being
 * in memory, so never READ or FORMAT) starts with "FILE:LINE:COLUMN: " and
 * a key path ("(root)" for none) followed by ": ".
 *
 * Built by tests/fuzz/meson.build (-Dfuzzing=true, clang); run by
 * .ci/fuzz-config.
 */

#include "config.h"

#include <jupiter/jupiter.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jupiter-config-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

/* "NAME:LINE:COLUMN: PATH: ", LINE and COLUMN positive decimals, PATH not
 * empty */
static gboolean
has_position (const char *message,
              const char *name)
{
  const char *p = message + strlen (name);

  if (!g_str_has_prefix (message, name) || *p++ != ':')
    return FALSE;
  for (int field = 0; field < 2; field++)
    {
      const char *digits = p;

      if (*p == '0')
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
      if (p == digits || *p++ != ':')
        return FALSE;
    }
  if (*p++ != ' ' || *p == ' ' || *p == ':' || *p == '\0')
    return FALSE;
  return strstr (p, ": ") != NULL;
}

static void
check_one (const uint8_t       *data,
           size_t               size,
           const char          *name,
           JupiterConfigFormat  format)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterConfig) config = NULL;

  config = jupiter_config_load_from_data ((const char *) data, size, name, format,
                                          "/nonexistent-jupiter-fuzz", &error);
  if ((config == NULL) == (error == NULL))
    abort ();
  if (error == NULL)
    return;
  if (error->domain != JUPITER_CONFIG_ERROR ||
      error->code == JUPITER_CONFIG_ERROR_READ || error->code == JUPITER_CONFIG_ERROR_FORMAT ||
      !g_utf8_validate (error->message, -1, NULL) || strchr (error->message, '\n') != NULL ||
      !has_position (error->message, name))
    {
      fprintf (stderr, "bad error: %s\n", error->message);
      abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  check_one (data, size, "fuzz.yaml", JUPITER_CONFIG_FORMAT_YAML);
  check_one (data, size, "fuzz.json", JUPITER_CONFIG_FORMAT_JSON);
  return 0;
}
