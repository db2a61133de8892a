"""ShapesT2I: the built-in captioned data set, its caption grammar, evaluation prompts and scorer;
real data formats: captioned image folders and zips, WebDataset shards, and their loaders.

``import ganblocks.data`` needs only numpy, torch and pillow; scipy is imported when an image is
scored, webdataset when shards are read or written.
"""

from .captions import caption_for as caption_for
from .captions import describe as describe
from .captions import parse_caption as parse_caption
from .diversity import diversity as diversity
from .edits import EDIT_KINDS as EDIT_KINDS
from .edits import edit_caption as edit_caption
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
from .transforms import MAX_CAPTION_CHARS as MAX_CAPTION_CHARS
from .transforms import IMAGE_EXTENSIONS as IMAGE_EXTENSIONS
from .transforms import BadSample as BadSample
from .transforms import BadSampleError as BadSampleError
from .transforms import to_rgb as to_rgb
from .transforms import center_crop_resize as center_crop_resize
from .transforms import decode_image as decode_image
from .transforms import clean_caption as clean_caption
from .badsamples import BadSampleLog as BadSampleLog
from .folder import METADATA_FILE as METADATA_FILE
from .folder import CaptionedImageFolder as CaptionedImageFolder
from .shards import expand_shards as expand_shards
from .shards import CaptionedShards as CaptionedShards
from .loaders import data_format as data_format
from .loaders import epoch_permutation as epoch_permutation
from .loaders import StepBatches as StepBatches
from .loaders import StreamBatches as StreamBatches
from .packing import pack_shards as pack_shards

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
    "EDIT_KINDS",
    "edit_caption",
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
    "MAX_CAPTION_CHARS",
    "IMAGE_EXTENSIONS",
    "BadSample",
    "BadSampleError",
    "to_rgb",
    "center_crop_resize",
    "decode_image",
    "clean_caption",
    "BadSampleLog",
    "METADATA_FILE",
    "CaptionedImageFolder",
    "expand_shards",
    "CaptionedShards",
    "data_format",
    "epoch_permutation",
    "StepBatches",
    "StreamBatches",
    "pack_shards",
]
