import * as ort from 'onnxruntime-node';

/** Execution providers reverie asks onnxruntime-node for; `auto` tries WebGPU, then the CPU. */
export const DEVICES = ['cpu', 'webgpu', 'cuda', 'auto'] as const;
export type Device = (typeof DEVICES)[number];

/** Where a session actually runs. */
export type ResolvedDevice = Exclude<Device, 'auto'>;

/** What opening a session on the requested device gave. */
export interface OpenedSession {
  session: ort.InferenceSession;
  device: ResolvedDevice;
  /** Why `auto` fell back to the CPU (absent when it did not). */
  fallback?: string;
}

/** The requested execution provider could not start; the message says why and what to do. */
export class DeviceUnavailableError extends Error {
  constructor(
    readonly device: ResolvedDevice,
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'DeviceUnavailableError';
  }
}

/**
 * Opens `modelPath` on `device`. A GPU provider that cannot start is an error that names the
 * device, ORT's reason and the fix, never a silent CPU session; `auto` tries WebGPU and falls back
 * to the CPU with the reason in `fallback`. `options(device)` gives the session options for a
 * device (output locations differ).
 */
export async function openSession(
  modelPath: string,
  device: Device,
  options: (device: ResolvedDevice) => ort.InferenceSession.SessionOptions,
): Promise<OpenedSession> {
  if (device === 'cpu')
    return { session: await ort.InferenceSession.create(modelPath, options('cpu')), device };
  const gpu: ResolvedDevice = device === 'auto' ? 'webgpu' : device;
  try {
    return { session: await ort.InferenceSession.create(modelPath, options(gpu)), device: gpu };
  } catch (err) {
    const unavailable = explainProviderFailure(gpu, err);
    if (device !== 'auto' || !unavailable) throw unavailable ?? err;
    return {
      session: await ort.InferenceSession.create(modelPath, options('cpu')),
      device: 'cpu',
      fallback: unavailable.message,
    };
  }
}

/**
 * Turns ORT's failure to start a provider into a `DeviceUnavailableError` with the fix; null when
 * the error is not about the provider (a bad graph stays that error).
 */
export function explainProviderFailure(device: ResolvedDevice, err: unknown): DeviceUnavailableError | null {
  const raw = err instanceof Error ? err.message : String(err);
  const reason = raw
    .split('\n')[0]!
    .replace(/^.*?(Failed to get a WebGPU adapter: )/, '$1')
    .trim();
  if (device === 'webgpu' && /webgpu|adapter|vulkan|dawn/i.test(raw)) {
    return new DeviceUnavailableError(
      device,
      `--device webgpu: onnxruntime's WebGPU provider could not start (${reason}). It runs on Dawn over ` +
        'Vulkan and needs a hardware GPU with its Vulkan driver (libvulkan1 and the vendor ICD, e.g. ' +
        "NVIDIA's libnvidia-gl); software Vulkan (lavapipe/llvmpipe) is refused. Serve with --device cpu, " +
        'or --device auto to fall back to the CPU when no GPU can start.',
      err,
    );
  }
  if (device === 'cuda' && /cuda|providers_shared|libonnxruntime_providers/i.test(raw)) {
    return new DeviceUnavailableError(
      device,
      `--device cuda: onnxruntime's CUDA provider could not start (${reason}). Its libraries are not on ` +
        'npm: reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 (CUDA 12 and cuDNN 9 on ' +
        'the machine), or serve with --device webgpu or cpu.',
      err,
    );
  }
  return null;
}
