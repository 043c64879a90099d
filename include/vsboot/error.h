/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: the one error domain of the library. */
#pragma once

#include "vsboot/export.h"
#include <glib.h>

VSB_BEGIN_DECLS

#define VSB_ERROR (vsb_error_quark())
GQuark vsb_error_quark(void);

/* Codes say what kind of thing went wrong; the message says where (file, offset, field). */
typedef enum {
  VSB_ERROR_FAILED,       /* anything not covered below */
  VSB_ERROR_IO,           /* a file could not be read or written */
  VSB_ERROR_PARSE,        /* input is malformed (JSON, varstore bytes, PE, certificate, ...) */
  VSB_ERROR_INVALID,      /* well-formed but not acceptable (schema, impossible request) */
  VSB_ERROR_NOT_FOUND,    /* a named thing does not exist */
  VSB_ERROR_NO_MATCH,     /* a search or selection found nothing */
  VSB_ERROR_UNSUPPORTED,  /* valid, but not something vsboot handles */
  VSB_ERROR_NO_SPACE,     /* the result would not fit (varstore overflow) */
  VSB_ERROR_BUSY,         /* the file is in use (locked by a running QEMU) */
  VSB_ERROR_EXISTS,       /* refusing to overwrite existing state */
  VSB_ERROR_TOOL,         /* an external tool (qemu-img, qemu, swtpm, ...) failed or is missing */
} VsbErrorCode;

VSB_END_DECLS
