"""The edges that talk to other services: the Airtable lane (pyairtable, rate-limited, cached),
the GitHub gateway (gidgethub, as the App), the readers of a whole base and of issues, and the
one wording of their failures."""
