#ifndef MANDANT_CONTROLLER_STORE_UUID_H_
#define MANDANT_CONTROLLER_STORE_UUID_H_

#include <string>

namespace mandant::controller::store {

// A random (version 4) UUID in canonical form, from OpenSSL's CSPRNG.
std::string NewUuid();

}  // namespace mandant::controller::store

#endif  // MANDANT_CONTROLLER_STORE_UUID_H_
