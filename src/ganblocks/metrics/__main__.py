"""``python -m ganblocks.metrics``: see [`ganblocks.metrics.cli`][ganblocks.metrics.cli]."""

from .cli import main

if __name__ == "__main__":
    main()
