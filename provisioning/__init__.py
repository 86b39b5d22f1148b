"""Institution lifecycle: provisioning (warm pool, cold path, migrate path),
suspension, reactivation, export and deletion."""
