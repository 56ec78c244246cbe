/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <glib.h>

#include "jupiter-version-macros.h"

G_BEGIN_DECLS

/**
 * JUPITER_CONFIG_ERROR:
 *
 * Error domain for host configuration files. Errors in this domain are from
 * the #JupiterConfigError enumeration. Every message has the form
 * `FILE:LINE:COLUMN: key.path: what was expected` (lines and columns are
 * 1-based, columns count characters), except %JUPITER_CONFIG_ERROR_READ and
 * %JUPITER_CONFIG_ERROR_FORMAT, which name the file only.
 */
#define JUPITER_CONFIG_ERROR (jupiter_config_error_quark ())

/**
 * JupiterConfigError:
 * @JUPITER_CONFIG_ERROR_READ: the file cannot be read
 * @JUPITER_CONFIG_ERROR_FORMAT: the file name ends neither in `.yaml`/`.yml`
 *   nor in `.json`
 * @JUPITER_CONFIG_ERROR_SYNTAX: not well-formed YAML or JSON (this includes
 *   tab indentation in YAML)
 * @JUPITER_CONFIG_ERROR_TOO_COMPLEX: nested too deeply, or aliases expand
 *   to too many nodes
 * @JUPITER_CONFIG_ERROR_EMPTY: the document is empty
 * @JUPITER_CONFIG_ERROR_DUPLICATE_KEY: a mapping holds a key twice
 * @JUPITER_CONFIG_ERROR_UNKNOWN_KEY: a key the schema does not know
 * @JUPITER_CONFIG_ERROR_MISSING_KEY: a required key is absent
 * @JUPITER_CONFIG_ERROR_TYPE: a value of the wrong type (a string where a
 *   number is wanted, a mapping where a list is wanted, ...)
 * @JUPITER_CONFIG_ERROR_VALUE: a value of the right type but out of range
 *   or malformed (a negative count, a bad duration, an unknown format)
 * @JUPITER_CONFIG_ERROR_DUPLICATE_ID: two plugins with one id
 * @JUPITER_CONFIG_ERROR_UNKNOWN_PLUGIN: a job names a plugin the
 *   configuration does not list
 * @JUPITER_CONFIG_ERROR_NOT_FOUND: a plugin file or directory named by the
 *   configuration does not exist
 *
 * Error codes in the %JUPITER_CONFIG_ERROR domain.
 */
typedef enum {
  JUPITER_CONFIG_ERROR_READ,
  JUPITER_CONFIG_ERROR_FORMAT,
  JUPITER_CONFIG_ERROR_SYNTAX,
  JUPITER_CONFIG_ERROR_TOO_COMPLEX,
  JUPITER_CONFIG_ERROR_EMPTY,
  JUPITER_CONFIG_ERROR_DUPLICATE_KEY,
  JUPITER_CONFIG_ERROR_UNKNOWN_KEY,
  JUPITER_CONFIG_ERROR_MISSING_KEY,
  JUPITER_CONFIG_ERROR_TYPE,
  JUPITER_CONFIG_ERROR_VALUE,
  JUPITER_CONFIG_ERROR_DUPLICATE_ID,
  JUPITER_CONFIG_ERROR_UNKNOWN_PLUGIN,
  JUPITER_CONFIG_ERROR_NOT_FOUND,
} JupiterConfigError;

JUPITER_AVAILABLE_IN_ALL
GQuark jupiter_config_error_quark (void);

G_END_DECLS
