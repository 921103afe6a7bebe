"""Organizer accounts: sign-in, sessions, users and roles."""
