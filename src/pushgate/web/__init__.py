"""The web app: sign up, log in with push approval, account, log out."""
