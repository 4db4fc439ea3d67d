"""Invoices and credit notes: numbered without gaps per organization and series, issued
after an order is confirmed or refunded (a journal subscriber, off the checkout's path)."""
