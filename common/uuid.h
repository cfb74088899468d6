#ifndef MANDANT_COMMON_UUID_H_
#define MANDANT_COMMON_UUID_H_

#include <string>

namespace mandant {

// A random (version 4) UUID in canonical form, from OpenSSL's CSPRNG.
std::string NewUuid();

// A random (version 4) UUID from a fast, non-cryptographic generator, for
// ids that only correlate log lines (call ids): unique in practice, but
// predictable, so never for anything stored or secret.
std::string NewCallId();

}  // namespace mandant

#endif  // MANDANT_COMMON_UUID_H_
