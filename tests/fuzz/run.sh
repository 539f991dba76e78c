#!/usr/bin/env bash
# Builds the libFuzzer targets for the HTTP parser with clang-14 and runs each for a while.
#
#   tests/fuzz/run.sh [BUILD_DIR]        (default build-fuzz, relative to the repository root)
#
# Environment: FUZZ_SECONDS (default 60) per target; FUZZ_JOBS (default 1) build jobs.
# The seed corpus is copied into BUILD_DIR/fuzz-corpus/<target> first, so the repository's
# tests/fuzz/corpus stays as it is; crash inputs land in BUILD_DIR/fuzz-artifacts/<target>/.
# Exits non-zero when a target crashes or fails a property check.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
targets=(parser_fuzz chunked_fuzz)

# clang-14 with its runtime libraries (libFuzzer and the sanitizers).
fuzzer_lib=$(ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null | head -n1 || true)
if ! command -v clang++-14 >/dev/null || [ -z "$fuzzer_lib" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev
  else
    echo "run.sh: clang-14 and libFuzzer are missing; as root: apt-get install clang-14 libclang-rt-14-dev" >&2
    exit 2
  fi
fi

CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DC10K_BUILD_FUZZ=ON -DC10K_BUILD_TESTS=ON -DC10K_BUILD_EXAMPLES=OFF -DC10K_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target "${targets[@]}" -j "$jobs"

status=0
summaries=()
for t in "${targets[@]}"; do
  corpus_name=${t%_fuzz}
  corpus=$build/fuzz-corpus/$corpus_name
  artifacts=$build/fuzz-artifacts/$t
  log=$build/fuzz-$t.log
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$corpus_name"/* "$corpus"/
  echo "== $t: ${seconds}s (log: $log)"
  rc=0
  "$build/tests/fuzz/$t" "$corpus" -dict="$root/tests/fuzz/http.dict" -max_total_time="$seconds" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  tail -n 25 "$log"
  # The last status line ("#123 DONE cov: 45 ft: 67 ...") and the final stats.
  last=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  [ -n "$execs" ] || execs=$(sed -E -n 's/^#([0-9]+).*/\1/p' <<<"$last")
  cov=$(sed -E -n 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -E -n 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  crashes=$(cd "$artifacts" && ls 2>/dev/null | paste -sd " " -)
  if [ "$rc" -ne 0 ] || [ -n "$crashes" ]; then
    status=1
    summaries+=("$t: executions: ${execs:-?} cov: ${cov:-?} ft: ${ft:-?} findings: ${crashes:-exit status $rc} (in $artifacts)")
  else
    summaries+=("$t: executions: ${execs:-?} cov: ${cov:-?} ft: ${ft:-?} findings: 0")
  fi
done

echo "== summary"
printf '%s\n' "${summaries[@]}"
exit "$status"
