"""Shared hypothesis strategies: draw seeds and sizes, never float arrays."""

import contextlib
from collections.abc import Iterator

import jaxtyping
from hypothesis import strategies as st

seeds = st.integers(min_value=0, max_value=2**31 - 1)
batch_sizes = st.integers(min_value=1, max_value=4)
channels = st.sampled_from([1, 2, 3, 4, 8, 16])
group_norm_channels = st.sampled_from([32, 64])
spatial = st.sampled_from([4, 5, 8, 12])
kernel_sizes = st.sampled_from([1, 3])
w_dims = st.integers(min_value=1, max_value=24)

# ShapesT2I vocabulary (tests/test_shapes*.py)
shapes_resolutions = st.sampled_from([32, 40, 64, 100])
shapes_colours = st.sampled_from(["red", "green", "blue", "yellow", "purple", "orange", "cyan", "white"])
shapes_shapes = st.sampled_from(["circle", "square", "triangle"])
shapes_cells = st.sampled_from(
    ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"]
)
shapes_indices = st.integers(min_value=0, max_value=999_999)

# Generator blocks (tests/test_generator_*.py)
odd_kernel_sizes = st.sampled_from([1, 3, 5])
upsample_factors = st.sampled_from([1, 2])
style_scales = st.floats(min_value=0.05, max_value=20.0)  # one positive scalar, not an array


@contextlib.contextmanager
def runtime_typecheck_disabled() -> Iterator[None]:
    """Switch the jaxtyping + beartype hook off, to see the `ValueError` a user without it gets."""
    previous = jaxtyping.config.jaxtyping_disable
    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", previous)


# Metrics (tests/test_metrics_*.py): feature sets are drawn from seeded numpy generators
feature_dims = st.integers(min_value=1, max_value=12)
feature_counts = st.integers(min_value=2, max_value=40)
