"""The web app: sign up, log in with push approval, account, log out.

It reaches the approval service only over HTTP (:mod:`.service_client`) and
hears back only through signed callbacks (:mod:`.callback`).
"""
