/* Debian's LLVM libunwind.a, which the musl builds link as their unwinder, was compiled with
 * _FORTIFY_SOURCE for glibc and calls glibc's checked fprintf (in its abort messages). musl
 * has no such entry point; this is it, without the check, as musl's own fprintf. */
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *stream, int flag, const char *format, ...);

int __fprintf_chk(FILE *stream, int flag, const char *format, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, format);
    int written = vfprintf(stream, format, ap);
    va_end(ap);
    return written;
}
