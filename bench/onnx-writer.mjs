// A minimal ONNX writer (protobuf wire format) for the benchmarks' peer models. A message is an
// array of byte chunks, so a large initializer's raw data (256 MB at 1M × 64) is copied only once,
// by the final concatenation in onnxModel().

const varint = (value) => {
  let v = BigInt(value);
  if (v < 0n) throw new Error('varint: negative values are not needed here');
  const out = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? b | 0x80 : b);
  } while (v);
  return Uint8Array.from(out);
};
const chunksSize = (chunks) => chunks.reduce((a, c) => a + c.length, 0);
export const pb = {
  int: (field, v) => [varint(field << 3), varint(v)],  // wire type 0
  bytes: (field, body) => {                            // wire type 2 (a message, a string or bytes)
    const chunks = body instanceof Uint8Array ? [body] : body;
    return [varint((field << 3) | 2), varint(chunksSize(chunks)), ...chunks];
  },
  str: (field, s) => pb.bytes(field, new TextEncoder().encode(s)),
  msg: (...fields) => fields.flat(),
};

export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;
const asBytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);  // little-endian hosts

// ValueInfoProto { name = 1, type = 2 }; TypeProto { tensor_type = 1 }; TypeProto.Tensor
// { elem_type = 1, shape = 2 }; TensorShapeProto { dim = 1 }; Dimension { dim_value = 1 }
export const valueInfo = (name, elemType, dims) => pb.msg(pb.str(1, name), pb.bytes(2, pb.bytes(1, pb.msg(
  pb.int(1, elemType), pb.bytes(2, pb.msg(...dims.map((d) => pb.bytes(1, pb.int(1, d)))))))));
// TensorProto { dims = 1, data_type = 2, name = 8, raw_data = 9 }
export const tensorProto = (name, dataType, dims, raw) =>
  pb.msg(...dims.map((d) => pb.int(1, d)), pb.int(2, dataType), pb.str(8, name), pb.bytes(9, asBytes(raw)));
// NodeProto { input = 1, output = 2, name = 3, op_type = 4, attribute = 5 }; integer attributes
// only: AttributeProto { name = 1, i = 3, type = 20 (INT = 2) }
export const nodeProto = (op, inputs, outputs, ints = {}) =>
  pb.msg(...inputs.map((x) => pb.str(1, x)), ...outputs.map((x) => pb.str(2, x)), pb.str(3, op.toLowerCase()), pb.str(4, op),
    ...Object.entries(ints).map(([name, v]) => pb.bytes(5, pb.msg(pb.str(1, name), pb.int(3, v), pb.int(20, 2)))));

// ModelProto { ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 } around a GraphProto
// message (an array of chunks); opset 17 of the default domain.
export function onnxModel(graph) {
  const model = pb.msg(
    pb.int(1, 8), pb.str(2, 'vitrine-bench'), pb.bytes(7, graph),
    pb.bytes(8, pb.msg(pb.str(1, ''), pb.int(2, 17))),  // OperatorSetIdProto { domain = 1, version = 2 }
  );
  const out = Buffer.concat(model);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
