#!/usr/bin/env python3
"""Build chorus's bundled demo corpus (JSONL, one article a line) from ../shared/data.

Only CC-licensed texts are taken:
  * Global Voices posts (`gv_*` files) of ml-crisis-cl-tls, CC BY 3.0 (Global Voices);
  * the "In the news" blurbs of itn-corpus (`corpus_dev.json`), CC BY-SA 3.0 (Wikipedia).

Usage: python3 tools/build_demo_corpus.py [SHARED_DATA_DIR] [OUT_DIR]
Output: OUT_DIR/global-voices.jsonl and OUT_DIR/itn.jsonl, in the format `chorus ingest` reads:
{"id","url","outlet","lang","published","title","text"}.
The output is deterministic (sorted), so re-running it gives byte-identical files.
"""
import html
import json
import os
import re
import sys
from datetime import datetime, timezone

SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "data", "demo")

GV_OUTLET = {
    "es": ("Global Voices en Español", "https://es.globalvoices.org/"),
    "fr": ("Global Voices en Français", "https://fr.globalvoices.org/"),
    "it": ("Global Voices in Italiano", "https://it.globalvoices.org/"),
}
# Series notices ("This post is part of our special coverage ...") say nothing about the
# event and would make every post of a series look alike, so they are dropped.
BOILERPLATE = re.compile(
    r"^(este post|esta publicaci[oó]n|este art[ií]culo|ce billet|cet article|questo post|questo articolo|"
    r"l'articolo|il post)\b.{0,160}(cobertura|dossier|copertura|speciale|especial)",
    re.IGNORECASE,
)


def first_sentence(line, limit=150):
    m = re.match(r"(.+?[.!?])(\s|$)", line)
    s = m.group(1) if m and len(m.group(1)) >= 30 else line
    if len(s) > limit:
        s = s[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return s.strip()


def global_voices():
    base = os.path.join(SHARED, "ml-crisis-cl-tls")
    rows = []
    with open(os.path.join(base, "manifest.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rec = dict(zip(header, line.rstrip("\n").split("\t")))
            if rec["origin"] != "gv":
                continue
            path = os.path.join(base, rec["path"])
            with open(path, encoding="utf-8") as g:
                lines = [l.strip() for l in g.read().splitlines()]
            lines = [l for l in lines if l and not (len(l) < 260 and BOILERPLATE.search(l))]
            if not lines:
                continue
            lang, topic = rec["lang"], rec["topic"]
            n = os.path.basename(path)[3:-4]
            outlet, home = GV_OUTLET[lang]
            rows.append({
                "id": f"gv-{lang}-{topic}-{rec['date']}-{n}",
                "url": home,
                "outlet": outlet,
                "lang": lang,
                "published": f"{rec['date']}T12:00:00Z",
                "title": first_sentence(lines[0]),
                "text": "\n".join(lines),
            })
    rows.sort(key=lambda r: (r["published"], r["id"]))
    return rows


def strip_html(s):
    s = re.sub(r"<[^>]+>", "", s)
    return re.sub(r"\s+", " ", html.unescape(s)).strip()


def itn():
    with open(os.path.join(SHARED, "itn-corpus", "corpus_dev.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    rows = []
    for qid in sorted(corpus):
        for ts, b in sorted(corpus[qid].items(), key=lambda kv: (float(kv[0]), kv[1]["lang"])):
            lang = b["lang"]
            text = strip_html(b["blurb"])
            if not text:
                continue
            m = re.search(r'<b>\s*<a [^>]*href="([^"]+)"', b["blurb"]) or re.search(r'href="([^"]+)"', b["blurb"])
            url = html.unescape(m.group(1)) if m else f"https://www.wikidata.org/wiki/{qid}"
            when = datetime.fromtimestamp(float(ts), tz=timezone.utc)
            rows.append({
                "id": f"itn-{qid}-{lang}-{int(float(ts))}",
                "url": url,
                "outlet": f"Wikipedia ({lang}) · In the news",
                "lang": lang,
                "published": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "title": (b.get("keyword") or "").strip(),
                "text": text,
            })
    rows.sort(key=lambda r: (r["published"], r["id"]))
    return rows


def write(name, rows):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{name}: {len(rows)} articles")


if __name__ == "__main__":
    write("global-voices.jsonl", global_voices())
    write("itn.jsonl", itn())
