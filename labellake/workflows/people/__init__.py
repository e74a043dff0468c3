"""People: portal accounts (sign-in, roles, API tokens) and the in-portal workforce (teams and
workers). Owns the accounts and workforce tables of the state db."""
