/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Secure Boot judgement on arbitrary bytes, held to a second model of the firmware written
 * the way edk2 walks the flash (VariableParsing.c FindVariableEx, Variable.c's init-time
 * Reclaim, AuthVariableLibInitialize): a plain pointer walk over the raw file, no hash tables,
 * none of varstore.c's code. Whenever the judgement is certain, both must give the same
 * SecureBoot value; "enforced" must come with everything it needs; and a store vsboot rewrites
 * must be judged the same again. Any crash, sanitizer report or disagreement fails. */
#include "vsboot/efivar.h"
#include "vsboot/sbjudge.h"
#include "vsboot/varstore.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static guint32
le(const guint8 *p, int n)
{
  guint32 v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

typedef struct {
  const guint8 *img;
  gsize start, end, hdr, name_off;
  gboolean dirty;
} RawStore;

/* FindVariableEx over the raw bytes: the offset of the record the firmware uses, or 0. */
static gsize
raw_find(const RawStore *r, const char *ascii_name, const VsbGuid *guid)
{
  gsize want = (strlen(ascii_name) + 1) * 2, added = 0, first_tr = 0, last_tr = 0;
  for (gsize p = r->start; p + 2 <= r->end && le(r->img + p, 2) == 0x55aa;) {
    const guint8 *h = r->img + p;
    guint32 ns = le(h + r->name_off, 4), ds = le(h + r->name_off + 4, 4);
    if (h[2] == 0xff || le(h + 4, 4) == 0xffffffffu || ns == 0xffffffffu || ds == 0xffffffffu)
      ns = ds = 0;
    gboolean match = ns == want && memcmp(h + r->hdr - 16, guid->b, 16) == 0;
    for (gsize i = 0; match && i < want; i++)
      match = h[r->hdr + i] == (i % 2 ? 0 : (i / 2 < want / 2 - 1 ? ascii_name[i / 2] : 0));
    if (match && h[2] == 0x3f && added == 0)
      added = p;
    if (match && h[2] == 0x3e) {
      last_tr = p;
      if (first_tr == 0)
        first_tr = p;
    }
    p = (p + r->hdr + ns + ds + 3) & ~(gsize)3;
  }
  return added ? added : r->dirty ? first_tr : last_tr;
}

/* AuthVariableLibInitialize's SecureBoot value, or -2 where the model does not decide. */
static int
raw_secure_boot(VsbVarstore *s, const guint8 *img, gsize size)
{
  gsize vol = vsb_varstore_get_volume_offset(s);
  RawStore r = { img, 0, 0, 0, 0, FALSE };
  gsize store = vol + le(img + vol + 0x30, 2);
  r.start = vsb_varstore_get_first_offset(s);
  r.end = store + le(img + store + 16, 4);
  gboolean auth = vsb_varstore_is_authenticated(s);
  r.hdr = auth ? 60 : 32;
  r.name_off = auth ? 36 : 8;
  gsize p = r.start;
  while (p + r.hdr <= r.end && le(img + p, 2) == 0x55aa) {
    const guint8 *h = img + p;
    guint32 ns = le(h + r.name_off, 4), ds = le(h + r.name_off + 4, 4);
    if (h[2] == 0xff || le(h + 4, 4) == 0xffffffffu || ns == 0xffffffffu || ds == 0xffffffffu)
      ns = ds = 0;
    p = (p + r.hdr + ns + ds + 3) & ~(gsize)3;
  }
  for (gsize i = p; i < r.end; i++)
    r.dirty |= img[i] != 0xff;
  if (!auth)
    return -1;
  if (raw_find(&r, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE) == 0)
    return 0;
  gsize sbe = raw_find(&r, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE);
  if (sbe == 0)
    return -2; /* created by the firmware if there is room: left to the judgement */
  gsize at = sbe + r.hdr + le(img + sbe + r.name_off, 4);
  return at < size && img[at] == 1 ? 1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) in = g_bytes_new_static(data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(VsbVarstore) s = vsb_varstore_load_bytes(in, "fuzz", &error);
  if (s == NULL)
    return 0;
  g_autoptr(VsbSbJudgement) j = vsb_sb_judge(s);
  VsbVarstoreBootFacts facts;
  vsb_varstore_get_boot_facts(s, &facts);
  if (j->verdict == VSB_SB_VERDICT_ENFORCED &&
      (j->mode != VSB_SB_MODE_USER || j->secure_boot != 1 || facts.reformat ||
       facts.ftw_pending || facts.tail_header || !vsb_varstore_is_authenticated(s) ||
       vsb_varstore_lookup(s, "PK", &VSB_GUID_EFI_GLOBAL_VARIABLE) == NULL))
    __builtin_trap();
  if (j->reason == NULL || (j->verdict != VSB_SB_VERDICT_ENFORCED && j->secure_boot == 1))
    __builtin_trap();
  /* A blank flash image is formatted in memory: its bytes are not the store judged. */
  gboolean blank = vsb_varstore_get_records(s)->len == 0;
  if (j->verdict != VSB_SB_VERDICT_UNCERTAIN && !facts.reformat && !blank) {
    int raw = raw_secure_boot(s, data, size);
    if (raw != -2 && raw != j->secure_boot)
      __builtin_trap();
  }
  /* Rewritten (compacted) by vsboot, the store must be judged the same, unless what decided
   * was something a rewrite removes: a header past the end, duplicate live records (only the
   * first is written), or bytes after a DataSize 0 SecureBootEnable's name (written as 0xFF
   * padding). */
  g_autoptr(GBytes) out = vsb_varstore_serialize(s, &error);
  if (out == NULL)
    __builtin_trap();
  g_autoptr(VsbVarstore) again = vsb_varstore_load_bytes(out, "again", &error);
  if (again == NULL)
    __builtin_trap();
  g_autoptr(VsbSbJudgement) j2 = vsb_sb_judge(again);
  const VsbVariable *sbe =
    vsb_varstore_lookup(s, "SecureBootEnable", &VSB_GUID_SECURE_BOOT_ENABLE_DISABLE);
  gboolean rewrite_changes = facts.tail_header || facts.duplicate != NULL ||
                             (sbe && g_bytes_get_size(sbe->data) == 0);
  if (!rewrite_changes && (j2->verdict != j->verdict || j2->secure_boot != j->secure_boot))
    __builtin_trap();
  return 0;
}
