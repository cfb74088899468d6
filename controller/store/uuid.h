#ifndef MANDANT_CONTROLLER_STORE_UUID_H_
#define MANDANT_CONTROLLER_STORE_UUID_H_

#include <string>

namespace mandant::controller::store {

// A random (version 4) UUID in canonical form, from OpenSSL's CSPRNG.
std::string NewUuid();

// A random (version 4) UUID from a fast, non-cryptographic generator, for
// ids that only correlate log lines (call ids): unique in practice, but
// predictable, so never for anything stored or secret.
std::string NewCallId();

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_UUID_H_
