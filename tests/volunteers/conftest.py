from tests.cases.support import auth, cases

__all__ = ["auth", "cases"]
