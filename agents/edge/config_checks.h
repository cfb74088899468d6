#ifndef MANDANT_AGENTS_EDGE_CONFIG_CHECKS_H_
#define MANDANT_AGENTS_EDGE_CONFIG_CHECKS_H_

// What every edge renderer checks before it writes a line: the spec passes
// tenants::ValidateEdgeSpec, and each file path the agent passes in its
// options is one that can stand in a configuration file as it is.

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "mandant/v1/agent.pb.h"

namespace mandant::agent {

// OK when tenants::ValidateEdgeSpec(spec) finds nothing; otherwise
// INVALID_ARGUMENT "refusing to render <what> ...: " + every violation.
absl::Status CheckRenderableEdgeSpec(const mandant::v1::EdgeSpec& spec, absl::string_view what);

// OK for an absolute path of 1-1024 bytes from [A-Za-z0-9_.,+@/-] without
// "." or ".." components: nothing a configuration parser could read as a
// separator, a quote or a comment. INVALID_ARGUMENT naming `option` else.
absl::Status CheckConfigPath(absl::string_view path, absl::string_view option);

}  // namespace mandant::agent

#endif  // MANDANT_AGENTS_EDGE_CONFIG_CHECKS_H_
