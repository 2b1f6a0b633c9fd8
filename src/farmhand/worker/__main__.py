"""`python -m farmhand.worker`: the worker agent."""

from ._command import worker_command

if __name__ == "__main__":
    worker_command(prog_name="farmhand worker")
