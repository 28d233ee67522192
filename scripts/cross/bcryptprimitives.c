/* ProcessPrng for wine 8.0, which lacks bcryptprimitives.dll: Rust's std (>= 1.78) imports
 * it for its random seeds, and without it every Rust program dies before main (status 53).
 * Setup builds this with mingw-w64 into the wine prefix's system32 (scripts/cross/toolchain.sh).
 * It fills the buffer from advapi32's RtlGenRandom (exported as SystemFunction036), which wine
 * implements; that takes a ULONG length, so larger requests are filled in pieces. Windows has
 * its own bcryptprimitives.dll: this file is never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG piece = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, piece)) return FALSE;
    data += piece;
    length -= piece;
  }
  return TRUE;
}
