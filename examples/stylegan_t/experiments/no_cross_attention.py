"""The pooled caption vector only: no cross-attention to the caption's word tokens.

Measured (docs/results.md, What each part of the recipe buys, with the long blur, 25.6 kimg):
cross-attention at 8 and 16 px raised position from 0.18 to 0.45, for 10 % fewer images/s.
"""

cross_attention = ""
