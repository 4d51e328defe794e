"""Notifications beyond the app: email and SMS delivery with preferences and quiet hours."""
