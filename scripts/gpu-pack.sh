#!/usr/bin/env bash
# Prepares what scripts/gpu-check.sh needs on the lent GPU machine, which has neither Node.js nor a
# registry: the node binary, the built server with its production dependencies (onnxruntime-node's
# linux-x64 libraries only), and the Vulkan loader packages (the WebGPU provider runs on Dawn over
# Vulkan). Everything goes to .gpu/ (git-ignored), which the device call names in `carry`:
#
#   bash scripts/gpu-pack.sh
#   device run: carry [".gpu"], command "bash scripts/gpu-check.sh", timeout_s 540
#
# The device tool sends the working tree plus carried paths, 64 MiB in all: this script refuses to
# finish above that, naming the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
LIMIT=$((64 * 1024 * 1024))
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

rm -rf .gpu && mkdir -p .gpu/gl

echo "building dist/"
npm run build --silent

echo "staging the server with production dependencies"
mkdir -p "$STAGE/app"
cp -r dist bin package.json package-lock.json "$STAGE/app/"
(cd "$STAGE/app" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
ort="$STAGE/app/node_modules/onnxruntime-node/bin/napi-v6"
rm -rf "$ort/darwin" "$ort/win32" "$ort/linux/arm64"
find "$STAGE/app/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' \) -delete
rm -rf "$STAGE/app/node_modules/@types"
XZ_OPT='-9 -T2' tar -C "$STAGE" -cJf .gpu/app.tar.xz app

echo "compressing $(command -v node) ($(node --version))"
XZ_OPT='-9 -T2' tar -C "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" -cJf .gpu/node.tar.xz bin/node

echo "downloading the Vulkan/EGL loader packages (amd64)"
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$STAGE/lists")
mkdir -p "$STAGE/lists/partial"
apt-get "${apt_opts[@]}" update -qq
(cd .gpu/gl && apt-get "${apt_opts[@]}" download -qq libvulkan1 libegl1 libglvnd0)

tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
untracked=$(git ls-files -z --others --exclude-standard | xargs -0 -r du -cb | tail -1 | cut -f1)
carried=$(du -sb .gpu | cut -f1)
total=$((tree + ${untracked:-0} + carried))
printf 'working tree %d MiB + untracked %d MiB + .gpu %d MiB = %d MiB of %d MiB\n' \
  $((tree >> 20)) $((${untracked:-0} >> 20)) $((carried >> 20)) $((total >> 20)) $((LIMIT >> 20))
if [ "$total" -gt "$LIMIT" ]; then
  echo "too large for the device tool: make the working tree smaller first" >&2
  exit 1
fi
ls -la .gpu .gpu/gl
