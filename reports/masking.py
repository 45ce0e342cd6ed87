"""Masking of personal numbers for reports; the one implementation is `callqa.masking` (the results layer
masks the evidence it stores with it too)."""

from callqa.masking import mask_numbers, number_spans

__all__ = ["mask_numbers", "number_spans"]
