"""The demo mutual (`gateway demo`, `make run`): demo.toml and the generated households (seed)."""

from gateway.demo.seed import AGENTS, DemoReport, load_demo

__all__ = ["AGENTS", "DemoReport", "load_demo"]
