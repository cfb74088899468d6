#include "agents/vm/hypervisor.h"

namespace mandant::agent {

absl::string_view DomainStateName(DomainState state) {
  switch (state) {
    case DomainState::kNoState:
      return "nostate";
    case DomainState::kRunning:
      return "running";
    case DomainState::kBlocked:
      return "blocked";
    case DomainState::kPaused:
      return "paused";
    case DomainState::kShutdown:
      return "shutting down";
    case DomainState::kShutoff:
      return "shut off";
    case DomainState::kCrashed:
      return "crashed";
    case DomainState::kPmSuspended:
      return "pmsuspended";
  }
  return "unknown";
}

bool IsActive(DomainState state) {
  switch (state) {
    case DomainState::kRunning:
    case DomainState::kBlocked:
    case DomainState::kPaused:
    case DomainState::kShutdown:
    case DomainState::kPmSuspended:
      return true;
    case DomainState::kNoState:
    case DomainState::kShutoff:
    case DomainState::kCrashed:
      return false;
  }
  return false;
}

}  // namespace mandant::agent
