"""The QA checks: pure functions from a transcript (and the lexicons) to findings and a score."""

from .engine import check_call
from .lexicon import Lexicon, LexiconError, load_lexicon

__all__ = ["Lexicon", "LexiconError", "check_call", "load_lexicon"]
