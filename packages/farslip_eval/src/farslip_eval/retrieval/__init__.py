"""Zero-shot image-text retrieval (RSICD, RSITMD, UCM-Captions)."""

from farslip_eval.retrieval.datasets import (
    CaptionedImage,
    RetrievalData,
    load_retrieval,
    read_karpathy_json,
    read_skyscript_retrieval_csv,
    read_vtrsbs_csv,
)
from farslip_eval.retrieval.evaluate import evaluate_retrieval
from farslip_eval.retrieval.protocol import FARSLIP_PREFIX, PROTOCOLS, RetrievalIndex, build_index

__all__ = [
    "FARSLIP_PREFIX",
    "PROTOCOLS",
    "CaptionedImage",
    "RetrievalData",
    "RetrievalIndex",
    "build_index",
    "evaluate_retrieval",
    "load_retrieval",
    "read_karpathy_json",
    "read_skyscript_retrieval_csv",
    "read_vtrsbs_csv",
]
