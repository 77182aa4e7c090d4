"""The authenticator: the phone page that answers approval requests."""
