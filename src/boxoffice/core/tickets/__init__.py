"""Tickets for their holders and the door: signed credentials, the public ticket page,
reissue (issue 12; check-in, PDF and wallet formats build on these)."""
