"""Datasets: immutable versions of files, folders and tables; schemas, validation, profiles."""
