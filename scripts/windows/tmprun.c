/*
 * tmprun.c: runs a program with TEMP and TMP set to the directory named by
 * KEYPREP_WINE_TMP, for tests under Wine only (scripts/windows/wine.sh);
 * never shipped.
 *
 *   tmprun.exe PROGRAM [ARGS...]
 *
 * Wine takes a program's TEMP and TMP from the registry of its prefix, not
 * from the Unix environment, when a program is started from Linux; a
 * program started by a Windows process inherits that process's
 * environment. So this one sets both and starts PROGRAM with the rest of
 * its own command line, unchanged, and exits with PROGRAM's exit code.
 */
#include <windows.h>
#include <stdio.h>

int
wmain(void)
{
	WCHAR dir[MAX_PATH + 1];
	DWORD n = GetEnvironmentVariableW(L"KEYPREP_WINE_TMP", dir, MAX_PATH + 1);
	WCHAR *p = GetCommandLineW();
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	DWORD code;

	if (n == 0 || n > MAX_PATH) {
		fputs("tmprun: KEYPREP_WINE_TMP not set or too long\n", stderr);
		return 125;
	}
	if (!SetEnvironmentVariableW(L"TEMP", dir) || !SetEnvironmentVariableW(L"TMP", dir)) {
		fputs("tmprun: cannot set TEMP and TMP\n", stderr);
		return 125;
	}
	/* Skip this program's own name (quoted or not) and the blanks after it;
	 * the rest is PROGRAM's command line as the caller quoted it. */
	if (*p == L'"') {
		for (p++; *p && *p != L'"'; p++)
			;
		if (*p)
			p++;
	} else {
		while (*p && *p != L' ' && *p != L'\t')
			p++;
	}
	while (*p == L' ' || *p == L'\t')
		p++;
	if (*p == 0) {
		fputs("usage: tmprun.exe PROGRAM [ARGS...]\n", stderr);
		return 125;
	}

	ZeroMemory(&si, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
	si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
	si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
	if (!CreateProcessW(NULL, p, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
		fprintf(stderr, "tmprun: cannot start the program: error %lu\n", GetLastError());
		return 125;
	}
	WaitForSingleObject(pi.hProcess, INFINITE);
	if (!GetExitCodeProcess(pi.hProcess, &code))
		code = 125;
	CloseHandle(pi.hThread);
	CloseHandle(pi.hProcess);
	return (int)code;
}
