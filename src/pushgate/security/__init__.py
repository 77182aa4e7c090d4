"""Defences against the real attacks on push login.

==================  ==========================================================
module              what it defends against
==================  ==========================================================
``headers``         script injection, framing, sniffing: response headers
``proxy``           spoofed client addresses and URLs behind a reverse proxy
``throttle``        password guessing: growing delays per account and address
``nonces``          replayed or stale callbacks
``number_match``    approving somebody else's login (the two-digit number)
``push_limits``     prompt bombing: one pending push, a rate, report pauses
``push_guard``      the approval service applying push limits and numbers
``service_api``     devices and security events of a user, for the account page
``account_view``    the account page's phones (removable) and recent events
``audit``           the trail of security events shown to the person
==================  ==========================================================
"""
