"""Self-attention over the pixels of the 8 px block, beside the cross-attention.

Measured in the token-level text-conditioning comparison (docs/results.md, Token-level text
conditioning).
"""

self_attention = "8"
