#!/usr/bin/env bash
# The GPU check of issue 15, prepared to run in one call on the lent GPU machine (NVIDIA H200):
#
#   bash scripts/gpu-pack.sh                              # here, first
#   device run: carry [".gpu"], command "bash scripts/gpu-check.sh", timeout_s 540
#
# It builds a random checkpoint of Qwen2.5-0.5B's shape, serves it twice (CPU provider and
# `--device webgpu`), compares greedy text, runs 1 and 32 concurrent greedy streams against each,
# samples GPU memory, and writes $OUT/gpu-check.json and $OUT/gpu-check.log: tok/s, TTFT, TPOT,
# GPU memory, and the share of the H200's memory bandwidth that batch-1 decode reaches.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
RV=/tmp/rv
START=$(date +%s)
say() { printf '[%4ds] %s\n' $(($(date +%s) - START)) "$*"; }

SHAPE=${SHAPE:-qwen2.5-0.5b} # SHAPE=tiny: a quick dry run of this script on any machine
say "unpacking loaders, node and the server"
for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
mkdir -p "$RV"
tar -C "$RV" -xJf .gpu/node.tar.xz
tar -C "$RV" -xJf .gpu/app.tar.xz
export PATH=$RV/bin:$PATH
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456
APP=$RV/app
node --version
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv
ldconfig -p | grep -c libvulkan || say "no libvulkan found"

MODELS=/tmp/models
say "writing a random checkpoint of shape $SHAPE"
node "$APP/dist/cli/main.js" make-test-model --shape "$SHAPE" --out "$MODELS/q05" --seed 1 || exit 1

serve() { # device port
  MODELS_DIR=$MODELS node "$APP/dist/cli/main.js" serve --port "$2" --device "$1" \
    >"$OUT/serve-$1.log" 2>&1 &
  echo $!
}
wait_ready() { # port pid log
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    # The server stays up (503) when its engine cannot start: don't wait out the device's time.
    grep -q "the engine failed to start" "$3" 2>/dev/null && return 1
    sleep 1
  done
  return 1
}

say "CPU server (converts the graph once)"
cpu_pid=$(serve cpu 8001)
wait_ready 8001 "$cpu_pid" "$OUT/serve-cpu.log" || { say "CPU server failed"; tail -40 "$OUT/serve-cpu.log"; exit 1; }
say "WebGPU server"
gpu_pid=$(serve webgpu 8002)
if ! wait_ready 8002 "$gpu_pid" "$OUT/serve-webgpu.log"; then
  say "WebGPU server failed to start"
  tail -60 "$OUT/serve-webgpu.log"
  kill "$gpu_pid" 2>/dev/null
  gpu_pid=""
fi

(while true; do
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >>"$OUT/gpu-mem.txt" 2>/dev/null
  sleep 0.5
done) &
sampler=$!

bench() { # port concurrency prompts tag
  node "$APP/dist/cli/main.js" bench serve --url "http://127.0.0.1:$1" --max-concurrency "$2" \
    --num-prompts "$3" --mix discrete=1 --max-tokens 64 --extra-body '{"temperature":0,"ignore_eos":true,"skip_special_tokens":false}' \
    --json-out "$OUT/bench-$4.json" --request-timeout 300 >"$OUT/bench-$4.txt" 2>&1
  tail -25 "$OUT/bench-$4.txt"
}

if [ -n "$gpu_pid" ]; then
  say "greedy text: CPU vs WebGPU"
  node scripts/gpu-compare.mjs text http://127.0.0.1:8001 http://127.0.0.1:8002 >"$OUT/compare.json"
  cat "$OUT/compare.json"
  say "WebGPU: 1 stream, then 32 concurrent"
  bench 8002 1 8 gpu-c1
  bench 8002 32 96 gpu-c32
  curl -s http://127.0.0.1:8002/metrics | grep -E '^reverie_(kv|device)' >"$OUT/gpu-metrics.txt"
fi
say "CPU provider, for reference: 1 stream, then 32 concurrent"
bench 8001 1 4 cpu-c1
bench 8001 32 64 cpu-c32

kill "$sampler" 2>/dev/null
say "summary"
node scripts/gpu-compare.mjs summary "$OUT" "$MODELS/q05" | tee "$OUT/gpu-check.json"
kill "$cpu_pid" ${gpu_pid:+"$gpu_pid"} 2>/dev/null
wait 2>/dev/null
say "done"
