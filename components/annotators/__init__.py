"""Annotators: who labels the sentences the strategy picked (the gold oracle here; LLMs plug in the same way)."""
from .base import Annotation, AnnotationRequest, Annotator, annotator_block, ANNOTATOR_NAMES

__all__ = ["Annotation", "AnnotationRequest", "Annotator", "annotator_block", "ANNOTATOR_NAMES"]
