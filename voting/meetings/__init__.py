"""Meetings, the big screen and QR sign-in."""
