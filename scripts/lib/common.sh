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
#   mandant::configure [CMAKE_ARGS...]
#                       configures $MANDANT_BUILD_DIR with CMake + Ninja
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

# Configures the build directory unless it is already configured with the
# same arguments (ninja re-runs CMake by itself when a CMakeLists.txt
# changes). The arguments are: our generator, build type and compiler
# launcher; -DMANDANT_WERROR=ON when $MANDANT_WERROR is 1 (default: 1 when
# CI=true, else 0); the function's own arguments (scripts/test passes a build
# variant's); and the environment variable MANDANT_CMAKE_ARGS (split on
# whitespace), e.g. MANDANT_CMAKE_ARGS="-DMANDANT_BUILD_BENCH=OFF". They are
# recorded in $MANDANT_BUILD_DIR/mandant-configure-args; changing any of them
# runs CMake again.
mandant::configure() {
  local -a extra_args=()
  if [[ -n "${MANDANT_CMAKE_ARGS:-}" ]]; then
    read -r -a extra_args <<<"${MANDANT_CMAKE_ARGS}"
  fi
  local werror="${MANDANT_WERROR:-}"
  if [[ -z "${werror}" ]]; then
    werror=0
    [[ "${CI:-}" == true ]] && werror=1
  fi
  [[ "${werror}" == 0 || "${werror}" == 1 ]] ||
    mandant::die "MANDANT_WERROR must be 0 or 1, not \"${werror}\""
  local -a args=(
    -G Ninja
    -DCMAKE_BUILD_TYPE="${MANDANT_BUILD_TYPE}"
    -DCMAKE_C_COMPILER_LAUNCHER=ccache
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
    -DMANDANT_WERROR="$([[ "${werror}" == 1 ]] && echo ON || echo OFF)"
    "$@"
    "${extra_args[@]}"
  )

  local generator
  generator="$(mandant::cmake_cache_value CMAKE_GENERATOR)"
  if [[ -n "${generator}" && "${generator}" != "Ninja" ]]; then
    mandant::die "${MANDANT_BUILD_DIR} was configured with the \"${generator}\" generator;" \
      "the scripts use Ninja. Remove that directory (rm -rf ${MANDANT_BUILD_DIR}) and run again."
  fi

  local stamp="${MANDANT_BUILD_DIR}/mandant-configure-args"
  if [[ -f "${MANDANT_BUILD_DIR}/build.ninja" && -f "${stamp}" &&
    "$(cat "${stamp}")" == "$(printf '%s\n' "${args[@]}")" ]]; then
    return 0
  fi

  mandant::info "configuring ${MANDANT_BUILD_DIR}: ${args[*]}"
  rm -f "${stamp}"
  cmake -S "${MANDANT_ROOT}" -B "${MANDANT_BUILD_DIR}" "${args[@]}"
  printf '%s\n' "${args[@]}" >"${stamp}"
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
