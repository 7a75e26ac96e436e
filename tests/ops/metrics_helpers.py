from prometheus_client import REGISTRY


def sample(name: str, **labels) -> float:
    """A metric's current value in this process (0 before its first increment)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
