"""What other apps may use of discussions: nothing yet. The app plugs into
others through their registries (course copy, data rights) from its
AppConfig.ready()."""

__all__: list[str] = []
