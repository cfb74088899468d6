#ifndef MANDANT_TESTS_SUPPORT_TEST_TLS_H_
#define MANDANT_TESTS_SUPPORT_TEST_TLS_H_

#include <string>

#include "absl/status/statusor.h"

namespace mandant::testing {

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed ECDSA P-256 server certificate for localhost and 127.0.0.1,
// valid for a day: the stand-in for a server certificate in tests that do
// not exercise the PKI.
absl::StatusOr<CertAndKey> MakeLocalhostCert();

}  // namespace mandant::testing

#endif  // MANDANT_TESTS_SUPPORT_TEST_TLS_H_
