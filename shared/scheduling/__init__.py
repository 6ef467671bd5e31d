"""Meetings: availability, slot holds and bookings, Google Calendar, reminders (issue 10)."""
