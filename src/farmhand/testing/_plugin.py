"""The pytest plugin (entry point `farmhand`): fixtures that run real farms."""

from __future__ import annotations
