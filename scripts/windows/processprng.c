/*
 * processprng.c: a stand-in bcryptprimitives.dll for running Go programs
 * under Wine 8.0 in tests only (scripts/windows/wine.sh); never shipped.
 *
 * Go's runtime (since Go 1.22) takes its random numbers from ProcessPrng in
 * bcryptprimitives.dll, which Windows 10 and later have and Wine 8.0 lacks:
 * without it every Go program stops at start-up. This DLL exports
 * ProcessPrng (https://learn.microsoft.com/en-us/windows/win32/seccng/processprng)
 * on top of RtlGenRandom (advapi32's SystemFunction036,
 * https://learn.microsoft.com/en-us/windows/win32/api/ntsecapi/nf-ntsecapi-rtlgenrandom).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

__declspec(dllexport) BOOL WINAPI
ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;

		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
