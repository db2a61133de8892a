"""Command line of ``pack_shards``: ``python -m ganblocks.data.pack SRC_FOLDER OUT_DIR --shard-size 1000``.

Packs a captioned image folder (or a .zip of one) into WebDataset shards; see
``ganblocks.data.packing``.
"""

from .packing import main

if __name__ == "__main__":
    raise SystemExit(main())
