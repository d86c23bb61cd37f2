"""Maderas Hub: the runtime every integration stands on."""

__version__ = "0.1.0"
