#ifndef MANDANT_DEMO_BOOTSTRAP_CA_H_
#define MANDANT_DEMO_BOOTSTRAP_CA_H_

#include <string>

#include "absl/status/status.h"

namespace mandant::demo {

// The demo's bootstrap CA: PostgreSQL needs a TLS certificate before
// mandantd has created Mandant's PKI (which lives in that database). Makes,
// in `tls_dir`, ca.crt / ca.key (EC P-256) and postgres.crt / postgres.key,
// a server certificate for localhost, 127.0.0.1 and ::1, each again when
// missing, not signed by the current CA or expiring within a day. Keys are
// generated in this process and written with mode 0600 through an atomic
// replace, so a failed or killed run leaves no key in a temporary file.
// INTERNAL naming the file when writing fails.
absl::Status EnsureBootstrapCa(const std::string& tls_dir);

// True when the PEM certificate in `path` is valid for at least another day.
bool CertificateValidForADay(const std::string& path);

}  // namespace mandant::demo

#endif  // MANDANT_DEMO_BOOTSTRAP_CA_H_
