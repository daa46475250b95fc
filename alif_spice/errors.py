"""Exceptions that the command line maps to documented exit statuses."""

from __future__ import annotations


class AlifError(Exception):
    """Base class of the errors alif-spice reports as one line."""

    exit_status = 70


class ParamError(AlifError, ValueError):
    """Invalid input: unknown key, wrong type, non-finite or out-of-range value (exit 2)."""

    exit_status = 2


class SimulationError(AlifError, RuntimeError):
    """A simulation failed or produced non-finite values; never returned as data (exit 3)."""

    exit_status = 3


class OutputError(AlifError):
    """An output could not be written once the work was done (disk full, folder gone,
    a folder that filled up meanwhile): exit 3; nothing half-written is left."""

    exit_status = 3
