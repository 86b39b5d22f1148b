"""Notifications: in-app, email and WebSocket delivery."""
