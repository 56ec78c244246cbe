/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <glib.h>

#include <jupiter/jupiter-version.h>

/* Every public symbol carries one of these marks; the library is built with
 * hidden visibility, so anything unmarked stays internal. */
#if defined(_WIN32)
#define _JUPITER_EXTERN __declspec (dllexport) extern
#else
#define _JUPITER_EXTERN __attribute__ ((visibility ("default"))) extern
#endif

#define JUPITER_AVAILABLE_IN_ALL _JUPITER_EXTERN
#define JUPITER_AVAILABLE_IN_0_1 _JUPITER_EXTERN
