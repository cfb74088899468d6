# shellcheck shell=bash
#
# Shared functions for the scripts in scripts/ and .ci/. Source it from a
# script that has already set `set -euo pipefail`; it sets no options itself.
#
#   MANDANT_ROOT        absolute path of the repository root
#   MANDANT_BUILD_DIR   the build directory (default: $MANDANT_ROOT/build)
#   mandant::info MSG   progress line on stdout
#   mandant::warn MSG   warning on stderr
#   mandant::die MSG    error on stderr, exit 1
#   mandant::build_env  exports the ccache settings shared by test and demo
#   mandant::configure  configures $MANDANT_BUILD_DIR with CMake + Ninja
#   mandant::ninja ARGS runs ninja in $MANDANT_BUILD_DIR (MANDANT_BUILD_JOBS
#                       limits parallel jobs; default: ninja's own choice)

MANDANT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
readonly MANDANT_ROOT

# Same build directory and flags for scripts/test and scripts/demo, so that one
# build serves both. MANDANT_BUILD_DIR may point elsewhere (relative paths are
# taken from the repository root).
MANDANT_BUILD_DIR="${MANDANT_BUILD_DIR:-build}"
if [[ "${MANDANT_BUILD_DIR}" != /* ]]; then
  MANDANT_BUILD_DIR="${MANDANT_ROOT}/${MANDANT_BUILD_DIR}"
fi
readonly MANDANT_BUILD_DIR

readonly MANDANT_BUILD_TYPE="RelWithDebInfo"

mandant::info() {
  printf '==> %s\n' "$*"
}

mandant::warn() {
  printf '%s: warning: %s\n' "${0##*/}" "$*" >&2
}

mandant::die() {
  printf '%s: error: %s\n' "${0##*/}" "$*" >&2
  exit 1
}

# The compiler cache lives outside the repository so that a fresh clone (as
# in CI) reuses the objects of earlier builds. CCACHE_BASEDIR rewrites the
# absolute paths under the repository to relative ones and CCACHE_NOHASHDIR
# leaves the working directory out of the hash, so two clones in different
# folders share cache entries.
# A user who may not write the machine-wide cache (not root) gets one of
# their own instead of a failing build.
mandant::build_env() {
  local dir="${MANDANT_CCACHE_DIR:-/var/cache/mandant/ccache}"
  if [[ -z "${MANDANT_CCACHE_DIR:-}" ]] && ! { mkdir -p "${dir}" 2>/dev/null && [[ -w "${dir}" ]]; }; then
    dir="${XDG_CACHE_HOME:-${HOME}/.cache}/mandant/ccache"
  fi
  export CCACHE_DIR="${dir}"
  export CCACHE_BASEDIR="${MANDANT_ROOT}"
  export CCACHE_NOHASHDIR=true
  mkdir -p "${CCACHE_DIR}"
}

# Prints the value of KEY from the CMake cache of $MANDANT_BUILD_DIR, or
# nothing when the key or the cache is missing.
mandant::cmake_cache_value() {
  local key=$1 cache="${MANDANT_BUILD_DIR}/CMakeCache.txt"
  [[ -f "${cache}" ]] || return 0
  sed -n "s/^${key}:[A-Z]*=//p" "${cache}" | head -n 1
}

# Configures the build directory unless it is already configured with our
# generator, build type and compiler launcher (ninja re-runs CMake by itself
# when a CMakeLists.txt changes). Extra CMake arguments come from the
# environment variable MANDANT_CMAKE_ARGS (split on whitespace), e.g.
# MANDANT_CMAKE_ARGS="-DMANDANT_BUILD_BENCH=OFF"; giving any forces a
# configure run.
mandant::configure() {
  local -a extra_args=()
  if [[ -n "${MANDANT_CMAKE_ARGS:-}" ]]; then
    read -r -a extra_args <<<"${MANDANT_CMAKE_ARGS}"
  fi

  local generator
  generator="$(mandant::cmake_cache_value CMAKE_GENERATOR)"
  if [[ -n "${generator}" && "${generator}" != "Ninja" ]]; then
    mandant::die "${MANDANT_BUILD_DIR} was configured with the \"${generator}\" generator;" \
      "the scripts use Ninja. Remove that directory (rm -rf ${MANDANT_BUILD_DIR}) and run again."
  fi

  if [[ -f "${MANDANT_BUILD_DIR}/build.ninja" &&
    "$(mandant::cmake_cache_value CMAKE_BUILD_TYPE)" == "${MANDANT_BUILD_TYPE}" &&
    "$(mandant::cmake_cache_value CMAKE_CXX_COMPILER_LAUNCHER)" == "ccache" &&
    ${#extra_args[@]} -eq 0 ]]; then
    return 0
  fi

  mandant::info "configuring ${MANDANT_BUILD_DIR} (${MANDANT_BUILD_TYPE}, Ninja, ccache)"
  cmake -S "${MANDANT_ROOT}" -B "${MANDANT_BUILD_DIR}" -G Ninja \
    -DCMAKE_BUILD_TYPE="${MANDANT_BUILD_TYPE}" \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    "${extra_args[@]}"
}

mandant::ninja() {
  local -a jobs=()
  if [[ -n "${MANDANT_BUILD_JOBS:-}" ]]; then
    [[ "${MANDANT_BUILD_JOBS}" =~ ^[1-9][0-9]*$ ]] ||
      mandant::die "MANDANT_BUILD_JOBS must be a positive number, not \"${MANDANT_BUILD_JOBS}\""
    jobs=(-j "${MANDANT_BUILD_JOBS}")
  fi
  ninja -C "${MANDANT_BUILD_DIR}" "${jobs[@]}" "$@"
}
