"""Booking: holds, orders, pricing, questions and capacity. See ``capacity.py`` for the one
place seats move."""
