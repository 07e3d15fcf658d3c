"""Annotators: who labels the sentences the strategy picked (the gold oracle, or an LLM through spacy-llm)."""
from .base import ANNOTATOR_NAMES, Annotation, AnnotationRequest, Annotator, annotator_block

__all__ = ["Annotation", "AnnotationRequest", "Annotator", "annotator_block", "ANNOTATOR_NAMES"]
