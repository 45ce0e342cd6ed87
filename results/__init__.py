"""The results layer: where scored calls persist and how they are read back.

Below the pipelines (which write through it) and the reports (which read through it): the per-call JSON
files and the Parquet tables, their schemas, which scoring of a call is the newest, the one atomic
writer and the one cleaner of a killed writer's leftovers, file names safe for any call id, and the file
permission policy.
"""
