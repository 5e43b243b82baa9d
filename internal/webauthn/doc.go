// Package webauthn is keyprep's pure translation layer between Microsoft Graph
// and a CTAP2 authenticator (docs/architecture.md §1). It does no I/O of any kind.
//
// The flow it supports:
//
//  1. ParseCreationOptions decodes the webauthnCredentialCreationOptions body
//     returned by GET .../fido2Methods/creationOptions (docs/graph.md §2),
//     tolerating the envelope and encoding variants seen in the wild (docs/graph.md §2.2, §2.4).
//  2. ClientDataJSON and ClientDataHash build the CollectedClientData the
//     platform would have produced (WebAuthn L3 §5.8.1, docs/graph.md §3.1).
//  3. MakeCredentialParams maps the options onto the inputs of CTAP 2.1
//     authenticatorMakeCredential (CTAP 2.1 §6.1, docs/graph.md §3.2) and
//     refuses options keyprep cannot satisfy.
//  4. ParseAuthData and CheckRegistration decode the authenticator's answer
//     (WebAuthn L3 §6.1, §6.5, §8.2) and run the local checks keyprep does
//     before registering with Entra.
//  5. AttestationObject and RegistrationBody produce the body of
//     POST /users/{id}/authentication/fido2Methods (docs/graph.md §4.1).
//
// DisplayName renders the method's display name within Entra's practical
// 30-character limit.
package webauthn
