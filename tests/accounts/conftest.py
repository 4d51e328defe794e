from tests.cases.support import cases

__all__ = ["cases"]
