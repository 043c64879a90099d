/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsboot/version.h"

/* The library's own numbers, fixed when it was built: a program compares them with the
 * VSB_VERSION_* macros it was compiled with. */
const char *
vsb_version(void)
{
  return VSB_VERSION_STRING;
}

void
vsb_version_get(guint *major, guint *minor, guint *micro)
{
  if (major)
    *major = VSB_VERSION_MAJOR;
  if (minor)
    *minor = VSB_VERSION_MINOR;
  if (micro)
    *micro = VSB_VERSION_MICRO;
}
