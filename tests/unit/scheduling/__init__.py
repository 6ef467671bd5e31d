"""Tests of scheduling: slots, bookings, reminders and reading a lead's answer to an offer."""
