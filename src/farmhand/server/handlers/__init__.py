"""Operation handlers, one module per concern; each registers its operations with `operation`."""

from ._registry import HANDLERS, Call, CallHints, Output, Params, Registered, load_handlers, operation

__all__ = ["HANDLERS", "Call", "CallHints", "Output", "Params", "Registered", "load_handlers", "operation"]
