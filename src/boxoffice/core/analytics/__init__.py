"""Analytics: figures for organizers and operators, computed from the journal (the
``analytics`` projection) and, where the journal says nothing, counted as it happens (event
page views) or read from the tables that are the record (holds, check-ins, waiting lists)."""
