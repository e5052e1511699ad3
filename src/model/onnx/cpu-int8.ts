import { readFileSync } from 'node:fs';

/**
 * Whether onnxruntime's u8 × s8 integer kernels may saturate on this CPU. Without VNNI, MLAS's
 * x86-64 u8 × s8 kernels (AVX2, AVX-512 core) add each pair of u8·s8 products in int16 with
 * saturation (VPMADDUBSW), which full-range int8 weights times activation codes near 255 overflow;
 * ORT's quantization guide advises u8 × u8 there. AVX-512 VNNI, AVX-VNNI and AMX accumulate the
 * products in int32, and ARM's kernels do not saturate either. Linux x86-64 reads the CPU flags;
 * another x86-64 system is assumed to lack VNNI (the safe answer).
 */
export function u8s8MaySaturate(): boolean {
  if (process.arch !== 'x64') return false;
  try {
    return !/\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return true;
  }
}
