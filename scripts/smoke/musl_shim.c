/*
 * Lets Bun's linux-x64-musl (or linux-arm64-musl) executable run on a glibc Debian, for the smoke
 * test only; see scripts/smoke/musl_shim.ts, which builds it at smoke time.
 *
 * WHY: the musl executable is dynamically linked against libstdc++.so.6 and libgcc_s.so.1 built
 * for musl; on Alpine they come from `apk add libstdc++ libgcc`. Debian has no musl build of
 * them, only glibc's. Debian's musl loader (/lib/ld-musl-x86_64.so.1, `apt-get install musl`)
 * can load glibc's libstdc++ and libgcc_s, but those two use a handful of glibc-only symbols that
 * musl does not define, and list glibc's loader (ld-linux-x86-64.so.2 / ld-linux-aarch64.so.1)
 * as NEEDED. This library stands in for those packages' missing pieces: it is built under the
 * glibc loader's name, so that it satisfies that NEEDED entry, and it defines exactly the missing
 * symbols. It is never shipped and never used by the proxy's users, who run the musl build on a
 * musl system with Alpine's libstdc++ and libgcc.
 *
 * It has no dependencies of its own (built with musl-gcc, or `cc -nostdlib`): getrandom and
 * strftime_l resolve at load time to musl's libc, which the musl loader already is.
 */

#include <locale.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

/* libstdc++ reads it to skip atomic reference counting; 0 (multi-threaded) is always safe. */
char __libc_single_threaded = 0;

/* glibc 2.36+; libstdc++'s std::random_device uses it. */
uint32_t arc4random(void) {
  uint32_t value = 0;
  if (getrandom(&value, sizeof value, 0) != sizeof value) value = 0;
  return value;
}

/* glibc's internal name of strftime_l, which libstdc++'s time_put calls. */
size_t __strftime_l(char *s, size_t n, const char *format, const struct tm *tm, locale_t locale) {
  return strftime_l(s, n, format, tm, locale);
}

/*
 * Registers a destructor of a thread_local object (glibc 2.18+). Debian's libstdc++ was built to
 * call it instead of its own emulation, and Bun references it too. Deliberately a no-op that
 * reports success: destructors of thread-local objects are NOT run when a thread exits. The smoke
 * test's short-lived processes lose nothing by that.
 */
int __cxa_thread_atexit_impl(void (*destructor)(void *), void *object, void *dso) {
  (void)destructor;
  (void)object;
  (void)dso;
  return 0;
}

/*
 * glibc 2.35+: finds the object containing an address, for the unwinder (C++ exceptions).
 * Failing (-1) makes libgcc_s fall back to dl_iterate_phdr, which musl provides.
 */
int _dl_find_object(void *address, void *result) {
  (void)address;
  (void)result;
  return -1;
}

/*
 * libgcc's CPU feature table and its initialiser. glibc's libgcc_s defines them itself, but only
 * under a non-default symbol version (GCC_4.8.0); musl's loader has no symbol versioning, treats
 * such symbols as hidden, and libgcc_s's own references to them fail to relocate. All zero means
 * "no optional CPU features": the portable code paths.
 */
struct {
  unsigned int vendor, type, subtype, features[1];
} __cpu_model;

int __cpu_indicator_init(void) {
  return 0;
}
