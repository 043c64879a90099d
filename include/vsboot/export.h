/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: what marks a declaration as part of libvsboot's ABI.
 *
 * The library is built with -fvisibility=hidden: a function is exported only when its
 * declaration lies between VSB_BEGIN_DECLS and VSB_END_DECLS in a public header. The two
 * wrap G_BEGIN_DECLS/G_END_DECLS (extern "C" for C++) around a push and pop of default
 * visibility, so a public header needs no mark on each declaration, and a private header
 * (G_BEGIN_DECLS alone) exports nothing. The linker version script src/lib/libvsboot.sym
 * lists the same set, and tests/api checks that the two agree. */
#pragma once

#include <glib.h>

#if defined(__GNUC__) || defined(__clang__)
#define VSB_BEGIN_DECLS G_BEGIN_DECLS _Pragma("GCC visibility push(default)")
#define VSB_END_DECLS _Pragma("GCC visibility pop") G_END_DECLS
#else
#define VSB_BEGIN_DECLS G_BEGIN_DECLS
#define VSB_END_DECLS G_END_DECLS
#endif
