#!/usr/bin/env python3
"""Compute chorus_embed::E5_NEWS_MEAN: the mean vector of the int8 ONNX graph over the
bundled demo articles, embedded as the pipeline embeds articles ("query: " + headline, a
newline and the lead up to 600 bytes, one text per run).

Usage: news-mean.py GRAPH.onnx TOKENIZER.json > mean.json
(GRAPH and TOKENIZER from ~/.cache/chorus/models; needs numpy, onnxruntime, tokenizers.)
"""
import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def lead(article):
    s = (article["title"] + "\n") if article["title"] else ""
    for ch in article["text"]:
        if len(s.encode()) >= 600:
            break
        s += ch
    return "query: " + s


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    graph, tokenizer = sys.argv[1:]
    tok = Tokenizer.from_file(tokenizer)
    tok.enable_truncation(512)
    tok.no_padding()
    demo = pathlib.Path(__file__).resolve().parent.parent / "data" / "demo"
    articles = [json.loads(l) for f in ("global-voices.jsonl", "itn.jsonl") for l in open(demo / f)]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    vectors = []
    for a in articles:
        e = tok.encode(lead(a))
        ids = np.array([e.ids], np.int64)
        vectors.append(session.run(["embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
    mean = np.mean(np.stack(vectors), axis=0)
    print(f"{len(vectors)} articles, norm {np.linalg.norm(mean):.3f}", file=sys.stderr)
    json.dump([round(float(x), 6) for x in mean], sys.stdout)


if __name__ == "__main__":
    main()
