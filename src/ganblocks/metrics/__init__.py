"""Quality metrics: Fréchet distances (FID, FD-DINO), KID, CLIP score, and a report command.

``import ganblocks.metrics`` is light: torch-fidelity, timm and open_clip are imported only when
an extractor is built. Command line: ``python -m ganblocks.metrics --help``.
"""

from .cache import StatsCache as StatsCache
from .cache import StatsKey as StatsKey
from .cache import default_cache_dir as default_cache_dir
from .clip_score import ImageTextEncoder as ImageTextEncoder
from .clip_score import clip_score as clip_score
from .clip_score import clip_similarities as clip_similarities
from .extractors import DINOFeatures as DINOFeatures
from .extractors import FeatureExtractor as FeatureExtractor
from .extractors import create_dino_features as create_dino_features
from .extractors import extract_features as extract_features
from .extractors import weights_fingerprint as weights_fingerprint
from .folder_reference import FolderReference as FolderReference
from .frechet import FeatureStats as FeatureStats
from .frechet import feature_statistics as feature_statistics
from .frechet import frechet_distance as frechet_distance
from .frechet import frechet_distance_from_features as frechet_distance_from_features
from .frechet import frechet_distance_stats as frechet_distance_stats
from .inception import INCEPTION_FILENAME as INCEPTION_FILENAME
from .inception import INCEPTION_URL as INCEPTION_URL
from .inception import InceptionV3Features as InceptionV3Features
from .inception import create_inception as create_inception
from .inception import default_inception_path as default_inception_path
from .kid import KIDResult as KIDResult
from .kid import kid as kid
from .kid import mmd2_unbiased as mmd2_unbiased
from .kid import polynomial_kernel as polynomial_kernel
from .report import METRICS as METRICS
from .report import MIN_SAMPLES_FOR as MIN_SAMPLES_FOR
from .report import Reference as Reference
from .report import ShapesReference as ShapesReference
from .report import check_metrics as check_metrics
from .report import evaluate_metrics as evaluate_metrics
from .text_to_image import EVAL_SEED_BASE as EVAL_SEED_BASE
from .text_to_image import TextToImage as TextToImage
from .text_to_image import evaluate_shapes as evaluate_shapes
from .text_to_image import generate_images as generate_images
from .text_to_image import save_sample_grid as save_sample_grid
from .text_to_image import score_generator as score_generator
from .text_to_image import shapes_grid_captions as shapes_grid_captions

__all__ = [
    "FolderReference",
    "FeatureStats",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_stats",
    "frechet_distance_from_features",
    "KIDResult",
    "polynomial_kernel",
    "mmd2_unbiased",
    "kid",
    "FeatureExtractor",
    "InceptionV3Features",
    "create_inception",
    "default_inception_path",
    "INCEPTION_FILENAME",
    "INCEPTION_URL",
    "DINOFeatures",
    "create_dino_features",
    "extract_features",
    "weights_fingerprint",
    "ImageTextEncoder",
    "clip_similarities",
    "clip_score",
    "StatsKey",
    "StatsCache",
    "default_cache_dir",
    "METRICS",
    "MIN_SAMPLES_FOR",
    "Reference",
    "ShapesReference",
    "check_metrics",
    "evaluate_metrics",
    "EVAL_SEED_BASE",
    "TextToImage",
    "evaluate_shapes",
    "generate_images",
    "save_sample_grid",
    "score_generator",
    "shapes_grid_captions",
]
