"""Compliance: the region pack protocol (tax now; retention and consent with the regions work)."""
