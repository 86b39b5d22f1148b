"""Real peers for tests: small servers started on loopback as subprocesses
(an OpenID provider, ...) so that our side talks to them over real HTTP."""
