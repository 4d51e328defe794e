from tests.cases.support import auth

__all__ = ["auth"]
