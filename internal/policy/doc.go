// Package policy is keyprep's one home for the Entra authentication method
// policies: the Passkey (FIDO2) and Temporary Access Pass (TAP) method
// configurations, what they mean for one user, the Graph permissions each
// flow needs, and what a `policy set` changes.
//
// It is pure domain code: it imports nothing of keyprep and makes no
// request. Callers read the user, the policies, the user's group
// memberships and the signed-in identity's permissions (the Graph adapter
// does), then ask Evaluate what is possible:
//
//   - a pre-provisioned passkey (FlowPasskey: keyprep enroll, the bench),
//   - signing in with a Temporary Access Pass (FlowTAP),
//   - signing in with a multi-use pass (FlowMultiUseTAP).
//
// Every Finding names the flows it affects; a flow's Verdict derives from
// its findings. `policy check`, the enroll preflight (and so the bench),
// and `tap create` all decide through this package (docs/architecture.md
// §1; the resources are described at
// https://learn.microsoft.com/graph/api/resources/fido2authenticationmethodconfiguration
// and
// https://learn.microsoft.com/graph/api/resources/temporaryaccesspassauthenticationmethodconfiguration).
package policy
