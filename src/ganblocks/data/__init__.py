"""ShapesT2I: the built-in captioned data set, its caption grammar, evaluation prompts and scorer.

``import ganblocks.data`` needs only numpy and torch; scipy is imported when an image is scored.
"""

from .captions import caption_for as caption_for
from .captions import describe as describe
from .captions import parse_caption as parse_caption
from .diversity import diversity as diversity
from .diversity import diversity_per_caption as diversity_per_caption
from .diversity import object_statistics as object_statistics
from .prompts import PROMPT_KINDS as PROMPT_KINDS
from .prompts import EvalPrompt as EvalPrompt
from .prompts import make_eval_prompts as make_eval_prompts
from .render import object_coverage as object_coverage
from .render import render_caption as render_caption
from .render import render_objects as render_objects
from .scene import CELL_PHRASES as CELL_PHRASES
from .scene import CELLS as CELLS
from .scene import DEFAULT_HOLDOUT as DEFAULT_HOLDOUT
from .scene import PALETTE as PALETTE
from .scene import SHAPE_FILL as SHAPE_FILL
from .scene import SHAPES as SHAPES
from .scene import ShapeObject as ShapeObject
from .scene import place_object as place_object
from .scene import validate_holdout as validate_holdout
from .shapes import SceneSampler as SceneSampler
from .shapes import ShapesT2I as ShapesT2I
from .shapes import float_to_uint8 as float_to_uint8
from .shapes import item_rng as item_rng
from .shapes import uint8_to_float as uint8_to_float
from .shapes_score import ImageScore as ImageScore
from .shapes_score import ObjectScore as ObjectScore
from .shapes_score import palette_coverage as palette_coverage
from .shapes_score import score_each as score_each
from .shapes_score import score_image as score_image
from .shapes_score import score_images as score_images
from .shapes_score import summarize_scores as summarize_scores
from .shapes_score import to_pixels as to_pixels

__all__ = [
    "PALETTE",
    "SHAPES",
    "SHAPE_FILL",
    "CELLS",
    "CELL_PHRASES",
    "DEFAULT_HOLDOUT",
    "ShapeObject",
    "place_object",
    "validate_holdout",
    "render_objects",
    "render_caption",
    "object_coverage",
    "caption_for",
    "describe",
    "parse_caption",
    "item_rng",
    "SceneSampler",
    "ShapesT2I",
    "uint8_to_float",
    "float_to_uint8",
    "EvalPrompt",
    "PROMPT_KINDS",
    "make_eval_prompts",
    "ObjectScore",
    "ImageScore",
    "to_pixels",
    "palette_coverage",
    "score_image",
    "score_each",
    "summarize_scores",
    "score_images",
    "object_statistics",
    "diversity_per_caption",
    "diversity",
]
