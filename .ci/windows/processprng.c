/* Test only, never shipped: Wine 8's bcryptprimitives.dll lacks ProcessPrng, which Rust's
 * standard library imports for its random numbers on Windows. .ci/run builds this stand-in with
 * MinGW-w64 and puts it in the Wine prefix; Windows 10 and later have the real one. */
#include <windows.h>

/* RtlGenRandom, exported by advapi32 under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
