import { randomUUID } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import { type GraphBuilder, ONNX_TYPE } from './graph-builder.ts';

const { onnx } = onnxProto;

/** Opset of the default domain; com.microsoft is imported for ORT's fused kernels. */
export const OPSET = 17;

/** Initializers above this size go to the external data file (protobuf caps a message at 2 GiB). */
const EXTERNAL_THRESHOLD = 1024;

/**
 * Writes the graph as `file` plus `file.data` holding the large initializers (ONNX external
 * data, 64-byte aligned so ORT can map them). Both are written to temporary names and renamed,
 * so an interrupted conversion never leaves a half-written model that looks complete. The
 * temporary names are unique: two processes (or engines) converting the same checkpoint at once
 * each write their own copy and the identical results replace each other atomically.
 */
export function writeModel(g: GraphBuilder, file: string, docString: string): void {
  const dataFile = `${file}.data`;
  const unique = randomUUID();
  const tmpData = `${dataFile}.${unique}.tmp`;
  const tmpModel = `${file}.${unique}.tmp`;
  try {
    writeParts(g, dataFile, tmpData, tmpModel, docString);
    renameSync(tmpData, dataFile);
    renameSync(tmpModel, file);
  } finally {
    rmSync(tmpData, { force: true });
    rmSync(tmpModel, { force: true });
  }
}

function writeParts(
  g: GraphBuilder,
  dataFile: string,
  tmpData: string,
  tmpModel: string,
  docString: string,
): void {
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  // Initializers over the very same bytes (one quantized table read by two ops as two shapes)
  // are stored once and point at one range of the data file.
  const written = new Map<ArrayBufferLike, Map<string, number>>();
  try {
    for (const init of g.initializers) {
      const base = { name: init.name, dataType: ONNX_TYPE[init.type], dims: init.dims };
      if (init.bytes.byteLength < EXTERNAL_THRESHOLD) {
        initializers.push({ ...base, rawData: init.bytes });
        continue;
      }
      const key = `${init.bytes.byteOffset}:${init.bytes.byteLength}`;
      let at = written.get(init.bytes.buffer)?.get(key);
      if (at === undefined) {
        const pad = (64 - (offset % 64)) % 64;
        if (pad) writeSync(fd, new Uint8Array(pad));
        offset += pad;
        writeSync(fd, init.bytes);
        at = offset;
        offset += init.bytes.byteLength;
        if (!written.has(init.bytes.buffer)) written.set(init.bytes.buffer, new Map());
        written.get(init.bytes.buffer)!.set(key, at);
      }
      initializers.push({
        ...base,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: basename(dataFile) },
          { key: 'offset', value: String(at) },
          { key: 'length', value: String(init.bytes.byteLength) },
        ],
      });
    }
  } finally {
    closeSync(fd);
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'reverie',
    docString,
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: 'reverie_decoder',
      node: g.nodes,
      input: g.inputs,
      output: g.outputs,
      initializer: initializers,
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  writeFileSync(tmpModel, bytes);
}
