/*
 * A test-only stand-in for webauthn.dll (Wine 8.0 has none), so that
 * libfido2 lists its Windows Hello pseudo-device windows://hello under Wine
 * as it does on Windows: winhello-test.sh installs it into the Wine prefix
 * for one run and removes it. Its functions do nothing; libfido2 only
 * looks them up (GetProcAddress) when it lists devices. Never shipped.
 */
#include <windows.h>

#define NOTIMPL { return E_NOTIMPL; }

__declspec(dllexport) DWORD WINAPI WebAuthNGetApiVersionNumber(void) { return 1; }
__declspec(dllexport) PCWSTR WINAPI WebAuthNGetErrorName(HRESULT hr) { (void)hr; return L"E_NOTIMPL"; }
__declspec(dllexport) HRESULT WINAPI WebAuthNAuthenticatorGetAssertion(HWND w, LPCWSTR rp, void *cd, void *opt, void **out)
{ (void)w; (void)rp; (void)cd; (void)opt; (void)out; return E_NOTIMPL; }
__declspec(dllexport) HRESULT WINAPI WebAuthNAuthenticatorMakeCredential(HWND w, void *rp, void *user, void *params, void *cd, void *opt, void **out)
{ (void)w; (void)rp; (void)user; (void)params; (void)cd; (void)opt; (void)out; return E_NOTIMPL; }
__declspec(dllexport) void WINAPI WebAuthNFreeAssertion(void *a) { (void)a; }
__declspec(dllexport) void WINAPI WebAuthNFreeCredentialAttestation(void *a) { (void)a; }
