"""Import every module that declares tables, so metadata knows the whole schema."""

from somebound.store import tables  # noqa: F401

for _name in ("identity", "decisions", "metrics", "listening", "web"):
    try:
        __import__(f"somebound.store.{_name}")
    except ModuleNotFoundError as exc:  # a domain not installed yet
        if exc.name != f"somebound.store.{_name}":
            raise
