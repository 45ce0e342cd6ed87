"""callqa: speech analytics and automated QA for Chinese life-insurance callback calls."""

__version__ = "0.1.0"
