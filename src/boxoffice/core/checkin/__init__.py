"""Check-in at the door (issue 12): lists per event, one scan answering everything a door
needs, and a ticket let in once however many scanners see it at the same moment."""
