"""Identity: organizations now; accounts, roles and sign-in come with the identity work."""
