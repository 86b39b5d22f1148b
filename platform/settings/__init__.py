"""Settings for each environment: base (shared), local, test, production."""
