"""Embedding throughput on a device (cuda, mps, cpu) at several batch sizes, and agreement with CPU fp32.

    python benchmarks/embed_device.py ../shared/eval/dev --device cuda --batch-sizes 32,256,1024
    python benchmarks/embed_device.py ../shared/eval/dev --dump-texts texts.jsonl   # for another machine
    python benchmarks/embed_device.py --texts texts.jsonl --device cuda --model PATH

The texts are what an ingest embeds: the set's articles split with the default settings, each passage
led by its title and date. `--dump-texts` writes them as JSON lines so a machine with only torch and
sentence-transformers (no Chroma) can run the measurement with `--texts`. For each batch size the
table gives the median passages/s of `--rounds` passes over the texts (after one warm-up pass), and
the lowest / median cosine between the device's vectors and CPU fp32 vectors of the same model for
the first `--check` texts — what `NEWSBOT_DEVICE` and `NEWSBOT_BATCH_SIZE` change.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.embed import PACKAGED_MODEL, SentenceTransformerEmbedder  # noqa: E402


def set_texts(set_dir: Path, limit: int) -> list[str]:
    """The first `limit` passages of the set's corpus, as the default ingest embeds them."""
    from ingest.pipeline import SplitSettings, embedding_text, load_sources
    from ingest.split import split_article
    from ingest.types import Article

    split, texts = SplitSettings(), []
    for article in load_sources([set_dir / "articles.jsonl.gz"]):
        if not isinstance(article, Article):
            continue  # a malformed row
        texts += [
            embedding_text(article, p, split.context) for p in split_article(article, split.max_chars, split.overlap)
        ]
        if len(texts) >= limit:
            break
    return texts[:limit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path, nargs="?")
    ap.add_argument("--texts", type=Path, help="JSON lines of texts (from --dump-texts) instead of SET_DIR")
    ap.add_argument("--dump-texts", type=Path, help="write the texts to this file and stop")
    ap.add_argument("--limit", type=int, default=4096, help="passages to embed [4096]")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--model", default=PACKAGED_MODEL)
    ap.add_argument("--batch-sizes", default="32,128,512")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--check", type=int, default=512, help="texts compared with CPU fp32 [512]")
    ap.add_argument("--out", type=Path, default=Path("runs/embed-device.json"))
    args = ap.parse_args()
    if args.texts:
        texts = [json.loads(line) for line in args.texts.read_text().splitlines()][: args.limit]
    elif args.set_dir:
        texts = set_texts(args.set_dir, args.limit)
    else:
        ap.error("give SET_DIR or --texts FILE")
    if args.dump_texts:
        args.dump_texts.write_text("".join(json.dumps(t) + "\n" for t in texts))
        print(f"{len(texts)} texts -> {args.dump_texts}")
        return

    reference = SentenceTransformerEmbedder(args.model, device="cpu", precision="fp32").embed(texts[: args.check])
    import torch

    rows = []
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        embedder = SentenceTransformerEmbedder(args.model, device=args.device, batch_size=batch)
        vectors = embedder.embed(texts)  # warm-up, and the vectors compared below
        rates = []
        for _ in range(args.rounds):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            embedder.embed(texts)
            rates.append(len(texts) / (time.perf_counter() - t0))
        cosine = np.sum(vectors[: args.check] * reference, axis=1)
        rows.append(
            {
                "batch_size": batch,
                "precision": embedder.precision,
                "passages_per_s": statistics.median(rates),
                "rates": rates,
                "cosine_min": float(cosine.min()),
                "cosine_median": float(np.median(cosine)),
            }
        )
        print(
            f"batch {batch:5d} ({embedder.precision}): {rows[-1]['passages_per_s']:8.0f} passages/s "
            f"(rounds {', '.join(f'{r:.0f}' for r in rates)}); cosine to CPU fp32 min {cosine.min():.5f} "
            f"median {np.median(cosine):.5f}",
            flush=True,
        )
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    result = {
        "device": args.device,
        "device_name": device_name,
        "torch": torch.__version__,
        "texts": len(texts),
        "chars": sum(map(len, texts)),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))


if __name__ == "__main__":
    main()
