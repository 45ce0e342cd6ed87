"""The QA checks: pure functions from a transcript (and the lexicons) to findings and a score."""

from .engine import check_call, engine_version, load_lexicon
from .lexicon import Lexicon, LexiconError

__all__ = ["Lexicon", "LexiconError", "check_call", "engine_version", "load_lexicon"]
