"""Local fakes of the payment providers' HTTP APIs (see each module's docstring), and the
pytest fixtures that start them (`tests/support/fakes/fixtures.py`, loaded by tests/conftest.py)."""
